/** The evaluation report: report.json, report.md and the perplexity and accuracy charts of a finished run. */
package dev.spruce.eval.report;
