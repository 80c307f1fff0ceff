package dev.spruce.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code spruce} command: one subcommand per stage or tool. */
@Command(name = "spruce", mixinStandardHelpOptions = true, version = "spruce 0.1.0",
        description = "Structured pruning of LLaMA-family models on Apache Spark.",
        subcommands = {CommandLine.HelpCommand.class, PipelineCommand.class, PruneCommand.class,
                RecoverCommand.class, EvaluateCommand.class, PretrainCommand.class, PlanCommand.class,
                InspectCommand.class, GenerateCommand.class, TokenizerTrainCommand.class, UnigramCommand.class,
                BenchCommand.class, GpuCheckCommand.class})
public final class Spruce implements Runnable {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit code (tests call this instead of main). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Spruce());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            String line = Errors.oneLine(ex);
            if (Errors.fromSpark(ex)) {
                java.nio.file.Path trace = Errors.writeTrace(ex);
                line += trace == null ? "" : "; full trace in " + trace;
            }
            cmd.getErr().println("spruce: error: " + line);
            if (System.getenv("SPRUCE_DEBUG") != null) {
                ex.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        try {
            return cl.execute(args);
        } catch (org.apache.hadoop.fs.FSError e) {
            // A full or failing disk outside spruce's own writers (Spark's): one line, like every other error.
            cl.getErr().println("spruce: error: " + Errors.oneLine(e));
            return 1;
        }
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }
}
