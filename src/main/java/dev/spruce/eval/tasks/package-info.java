/**
 * Evaluation data and its formats: lm-evaluation-harness v0.3 task prompts and request construction, the
 * perplexity windows of LLM-Pruner's protocol, the optional prompt prefix in front of every request, text and
 * record readers, and the records they skip.
 */
package dev.spruce.eval.tasks;
