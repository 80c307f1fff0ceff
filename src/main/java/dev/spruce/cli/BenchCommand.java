package dev.spruce.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code spruce bench}: throughput benchmarks on random models, one subcommand per stage. A new benchmark is a
 * command class added to {@code subcommands}; {@link BenchModelOptions} gives it the random model and Spark.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Throughput benchmarks on random models and random token data.",
        subcommands = {CommandLine.HelpCommand.class, BenchImportanceCommand.class, BenchTrainCommand.class,
                BenchEvaluateCommand.class, BenchModelCommand.class})
public final class BenchCommand implements Runnable {
    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
