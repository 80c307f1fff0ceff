/**
 * Charts (PNG line and bar charts) and Markdown/text tables, with no knowledge of what they show; used by
 * training (loss curves), evaluation reports and benchmarks.
 */
package dev.spruce.report;
