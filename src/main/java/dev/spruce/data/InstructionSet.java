package dev.spruce.data;

import dev.spruce.io.Fs;
import dev.spruce.spark.ExecutorTokenizers;
import dev.spruce.tokenize.Tokenizer;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import scala.Tuple2;

/**
 * Alpaca-format instruction records ({@code instruction}, optional {@code input}, {@code output}) tokenized
 * on the executors with a {@link PromptTemplate} (the reference Alpaca template unless told otherwise).
 * Malformed records (unparseable, or missing instruction or output) and records whose prompt alone fills the
 * cutoff are counted and reported, never silently dropped.
 * Sample ids follow a seeded hash of the record content, so they are the same however the data is split.
 *
 * @param samples   the tokenized samples, ids 0..usable-1
 * @param records   all records read
 * @param malformed records that are not valid Alpaca records
 * @param promptTooLong records whose prompt is at least the cutoff long
 */
public record InstructionSet(Dataset<TokenSample> samples, long records, long malformed, long promptTooLong,
                             long usable) implements Serializable {

    public String describe() {
        return records + " records, " + usable + " usable, " + malformed + " malformed (missing instruction or "
                + "output, or not JSON), " + promptTooLong + " with a prompt longer than the cutoff";
    }

    /** The records rendered with the reference Alpaca template. */
    public static InstructionSet load(SparkSession spark, TextSource source, String tokenizerPath, int cutoff,
                                      boolean trainOnInputs, long seed) {
        return load(spark, source, tokenizerPath, cutoff, trainOnInputs, seed, PromptTemplate.ALPACA);
    }

    /** The records rendered with {@code template} (shipped to the executors with the task). */
    public static InstructionSet load(SparkSession spark, TextSource source, String tokenizerPath, int cutoff,
                                      boolean trainOnInputs, long seed, PromptTemplate template) {
        if (source.format().startsWith("text")) {
            throw new IllegalArgumentException(source.path() + ": instruction data must be json, jsonl or parquet "
                    + "with instruction/input/output fields, not " + source.format());
        }
        Dataset<Row> rows = source.rows(spark).cache();
        source.requireColumn(rows, "instruction");
        source.requireColumn(rows, "output");
        boolean hasInput = Arrays.asList(rows.columns()).contains("input");
        Column valid = functions.col("instruction").isNotNull().and(functions.col("output").isNotNull());
        if (Arrays.asList(rows.columns()).contains("_corrupt_record")) {
            valid = valid.and(functions.col("_corrupt_record").isNull());
        }
        long records = rows.count();
        Dataset<Row> good = rows.filter(valid).select(functions.col("instruction").cast("string"),
                hasInput ? functions.col("input").cast("string") : functions.lit(null).cast("string").as("input"),
                functions.col("output").cast("string"));
        long malformed = records - good.count();
        String tokenizer = Fs.absolute(tokenizerPath); // absolute here, on the driver
        JavaRDD<Tuple2<Long, TokenSample>> tokenized = good.javaRDD().mapPartitions(it -> {
            Tokenizer tok = ExecutorTokenizers.get(tokenizer);
            List<Tuple2<Long, TokenSample>> out = new ArrayList<>();
            while (it.hasNext()) {
                Row r = it.next();
                String instruction = r.getString(0);
                String input = r.isNullAt(1) ? "" : r.getString(1);
                String output = r.getString(2);
                long key = ContentKeys.mix(seed, ContentKeys.hash(instruction + '\u0000' + input + '\u0000' + output), 0);
                TokenSample s = InstructionTokens.tokenize(tok, 0, template, instruction, input, output, cutoff,
                        trainOnInputs);
                out.add(new Tuple2<>(key, s));
            }
            return out.iterator();
        }).cache();
        long promptTooLong = tokenized.filter(t -> t._2() == null).count();
        JavaRDD<TokenSample> samples = tokenized.filter(t -> t._2() != null)
                .sortBy(Tuple2::_1, true, Math.max(1, tokenized.getNumPartitions()))
                .zipWithIndex()
                .map(t -> new TokenSample(t._2(), t._1()._2().getTokens(), t._1()._2().getPromptLength()));
        Dataset<TokenSample> ds = spark.createDataset(samples.rdd(), Encoders.bean(TokenSample.class)).cache();
        long usable = ds.count();
        return new InstructionSet(ds, records, malformed, promptTooLong, usable);
    }
}
