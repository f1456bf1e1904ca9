/**
 * Grade-school arithmetic word problems with step-by-step worked solutions, small enough that a LLaMA trained from
 * scratch on two CPU cores learns them: a seeded generator with a held-out split of unseen (story, phrasing) pairs
 * ({@link dev.cllm.examples.math.MathTask}), its closed-vocabulary, digit-by-digit tokenizer
 * ({@link dev.cllm.examples.math.MathTokenizerFiles}) and scoring by exact final answer
 * ({@link dev.cllm.examples.math.MathEvaluator}).
 */
package dev.cllm.examples.math;
