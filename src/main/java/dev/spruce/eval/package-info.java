/**
 * The evaluation stage: settings, and {@link dev.spruce.eval.Evaluation}, which loads tasks
 * ({@code eval.tasks}), scores them ({@code eval.scoring}) for each named model and returns the results that
 * {@code eval.report} writes.
 */
package dev.spruce.eval;
