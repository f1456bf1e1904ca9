/**
 * A Spider-like text-to-SQL task small enough that a LLaMA trained from scratch on two CPU cores learns it: a seeded
 * generator of databases and (question, SQL) pairs with a held-out split of unseen schemas and phrasings
 * ({@link dev.cllm.examples.sql.SqlTask}), its closed-vocabulary tokenizer
 * ({@link dev.cllm.examples.sql.SqlTokenizerFiles}) and execution-based evaluation on SQLite
 * ({@link dev.cllm.examples.sql.SqlEvaluator}).
 */
package dev.cllm.examples.sql;
