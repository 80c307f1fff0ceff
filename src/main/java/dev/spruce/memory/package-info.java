/**
 * The per-executor memory plan: bytes each stage needs on one executor (weights, gradients, sums, activations,
 * logits, host buffers), estimated from config.json and the settings alone, checked against the executor's budget
 * on the driver before any executor work. Imports model and scope only; the formula is in docs/MEMORY.md.
 */
package dev.spruce.memory;
