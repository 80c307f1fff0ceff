/**
 * Data as Spark Datasets: calibration windows, instruction records (Alpaca format, rendered with a prompt template:
 * Alpaca's or Compresso's collaborative prompt), plain-text training windows; reading text, JSON/JSONL and Parquet from any Hadoop file system.
 */
package dev.spruce.data;
