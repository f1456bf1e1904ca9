/**
 * {@code ./cllm blend}: a CLLM moved back toward its base model by the share of its weights a validation split
 * chooses ({@link dev.cllm.examples.blend.BlendSearch}).
 */
package dev.cllm.examples.blend;
