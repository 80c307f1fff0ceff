/**
 * Scoring requests with a model: log-likelihoods and perplexity in float64 sums, on Spark executors with the
 * resident model, and the metrics (acc, acc_norm, perplexity) computed from them.
 */
package dev.spruce.eval.scoring;
