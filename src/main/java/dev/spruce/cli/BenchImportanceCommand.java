package dev.spruce.cli;

import dev.spruce.bench.ImportanceBenchmark;
import dev.spruce.importance.Criterion;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.spark.ModelRef;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code spruce bench importance}: throughput and time split of the distributed importance job. */
@Command(name = "importance", mixinStandardHelpOptions = true,
        description = "Tokens/s of importance on Spark with a random model; time split gradients/reduce/plan/apply.")
public final class BenchImportanceCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Mixin
    private BenchModelOptions model;

    @Option(names = "--samples", defaultValue = "32", description = "Calibration samples (default ${DEFAULT-VALUE}).")
    private int samples;

    @Option(names = "--length", defaultValue = "128", description = "Tokens per sample (default ${DEFAULT-VALUE}).")
    private int length;

    @Option(names = "--partitions", split = ",", defaultValue = "1,2",
            description = "Partition counts to measure (default ${DEFAULT-VALUE}).")
    private List<Integer> partitions;

    @Option(names = "--micro-batch", defaultValue = "4", description = "Samples per forward/backward (default ${DEFAULT-VALUE}).")
    private int microBatch;

    @Option(names = "--criterion", defaultValue = "param_first", description = "Importance criterion (default ${DEFAULT-VALUE}).")
    private String criterion;

    @Option(names = "--repeats", defaultValue = "1",
            description = "Timed runs per partition count after the warm-up; the row of the run with the median "
                    + "gradients time is printed (default ${DEFAULT-VALUE}).")
    private int repeats;

    @Override
    public Integer call() {
        if (repeats < 1) {
            throw new IllegalArgumentException("--repeats must be at least 1, got " + repeats);
        }
        try (BenchModelOptions options = model) {
            LlamaConfig config = options.config();
            ModelRef ref = options.writeModel(config);
            SparkSession spark = options.spark();
            List<Map<String, Object>> rows = new ArrayList<>();
            // One untimed run loads the model on the executors and warms up the JIT and libtorch.
            ImportanceBenchmark.run(spark, ref, config, new ImportanceBenchmark.Settings(samples, length,
                    partitions.get(0), microBatch, Criterion.parse(criterion), options.seed),
                    new Path(Fs.path(ref.path()).getParent(), "warm-up"));
            for (int p : partitions) {
                List<Map<String, Object>> runs = new ArrayList<>();
                for (int r = 0; r < repeats; r++) {
                    runs.add(ImportanceBenchmark.run(spark, ref, config, new ImportanceBenchmark.Settings(samples,
                            length, p, microBatch, Criterion.parse(criterion), options.seed),
                            new Path(Fs.path(ref.path()).getParent(), "work-" + p)));
                }
                runs.sort(java.util.Comparator.comparingDouble(row -> (Double) row.get("gradients s")));
                rows.add(runs.get((repeats - 1) / 2));
            }
            PrintWriter out = spec.commandLine().getOut();
            out.println(BenchModelOptions.describe(config, ref, spark));
            out.print(BenchTables.of(rows).text());
            out.flush();
        }
        return 0;
    }
}
