package dev.spruce.cli;

import dev.spruce.importance.ImportanceScoresJson;
import dev.spruce.io.Fs;
import dev.spruce.model.LlamaConfig;
import dev.spruce.prune.PlanSettings;
import dev.spruce.prune.Planner;
import dev.spruce.prune.PruneMode;
import dev.spruce.prune.PrunePlan;
import dev.spruce.scope.LayerRange;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spruce plan}: plans LLM-Pruner's structural pruning from importance scores and writes
 * {@code plan.json}; with {@code --dry-run} it only prints the per-layer table and the parameter counts, and
 * in mode local needs no scores (a config.json is enough). With {@code -c} or a cluster-shape option the dry run
 * also prints the memory each stage needs per executor ({@link MemoryOptions}, docs/MEMORY.md).
 */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Plan which attention kv groups and MLP channels each layer keeps (LLM-Pruner).")
public final class PlanCommand implements Callable<Integer> {

    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model directory or its config.json (default: model.path of -c).")
    private String model;

    @Option(names = "--ratio", description = "Fraction of units removed inside each pruned layer, in [0, 1).")
    private Double ratio;

    @Option(names = "--layers", description = "Pruned layers START:END, end exclusive, for attention and MLP "
            + "(default 4:30, the range of LLM-Pruner's documented commands).")
    private String layers;

    @Option(names = "--attn-layers", description = "Attention layer range START:END (overrides --layers).")
    private String attnLayers;

    @Option(names = "--mlp-layers", description = "MLP layer range START:END (overrides --layers).")
    private String mlpLayers;

    @Option(names = "--mode", description = "local (reference default), global (one threshold, reference "
            + "--global_pruning) or budget (parameter target). Default: local, or budget with a target.")
    private String mode;

    @Option(names = "--target-params", description = "Budget: total parameters of the pruned model.")
    private Long targetParams;

    @Option(names = "--target-fraction", description = "Budget: target as a fraction of the model's parameters.")
    private Double targetFraction;

    @Option(names = "--channel-multiple", defaultValue = "1",
            description = "Kept MLP widths are multiples of this (default ${DEFAULT-VALUE}).")
    private int channelMultiple;

    @Option(names = "--kv-group-multiple", defaultValue = "1",
            description = "Kept kv-group counts are multiples of this (default ${DEFAULT-VALUE}).")
    private int kvGroupMultiple;

    @Option(names = "--uniform", description = "Budget: every pruned layer keeps the same widths.")
    private boolean uniform;

    @Option(names = "--channel-wise", description = "Prune hidden (residual) channels instead: the Channel baseline.")
    private boolean channelWise;

    @Option(names = "--protect", split = ",", description = "Layers never pruned, e.g. 0,1,31.")
    private List<Integer> protectedLayers = new ArrayList<>();

    @Option(names = "--scores", description = "Importance scores JSON (needed to write a plan).")
    private String scores;

    @Option(names = "--out", description = "Where to write plan.json.")
    private String out;

    @Option(names = "--dry-run", description = "Only print the per-layer counts and parameter totals; with -c or "
            + "a cluster-shape option also the memory each stage needs per executor (docs/MEMORY.md).")
    private boolean dryRun;

    @Mixin
    private MemoryOptions memory = new MemoryOptions();

    @Override
    public Integer call() {
        if (!dryRun && (scores == null || out == null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "spruce plan writes a plan from --scores "
                    + "<scores.json> to --out <plan.json>; give both, or --dry-run to only print the counts");
        }
        JobConfig job = dryRun && memory.requested() ? memory.load() : null;
        if (job != null) {
            defaults(job);
        }
        if (model == null) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--model <dir or config.json> is required "
                    + "(or -c <job.conf> with model.path, for --dry-run)");
        }
        LlamaConfig config = LlamaConfig.read(Fs.path(model));
        PlanSettings settings = settings();
        PrunePlan plan = null;
        LlamaConfig pruned;
        if (scores != null) {
            plan = Planner.plan(config, ImportanceScoresJson.read(Fs.path(scores)), settings);
            pruned = plan.prunedConfig();
        } else if (job != null && settings.mode() != PruneMode.LOCAL) {
            pruned = null; // budget and global modes count from scores; the memory plan still runs
        } else {
            pruned = Planner.counts(config, settings);
        }
        PrintWriter w = spec.commandLine().getOut();
        if (pruned != null) {
            printTable(w, config, pruned, settings);
        } else {
            w.printf(Locale.ROOT, "plan: mode %s counts from importance scores (give --scores for the table); recover "
                    + "is estimated on the unpruned model, an upper bound%n", settings.mode().label());
            pruned = config;
        }
        if (job != null) {
            memory.print(w, job, config, pruned, settings.attentionLayers(), settings.mlpLayers());
        }
        if (!dryRun) {
            plan.write(Fs.path(out));
            w.println("wrote " + out);
        }
        w.flush();
        return 0;
    }

    /** Options not given on the command line come from the job configuration. */
    private void defaults(JobConfig job) {
        if (model == null && !job.string("model.path").isBlank()) {
            model = job.string("model.path");
        }
        if (ratio == null && mode == null) {
            ratio = job.number("prune.ratio");
            mode = job.string("prune.mode");
        }
        if (layers == null && attnLayers == null && mlpLayers == null) {
            attnLayers = job.string("prune.attention-layers");
            mlpLayers = job.string("prune.mlp-layers");
        }
        if (targetParams == null && targetFraction == null) {
            targetParams = job.longValue("prune.target-params") > 0 ? job.longValue("prune.target-params") : null;
            targetFraction = job.number("prune.target-fraction") > 0 ? job.number("prune.target-fraction") : null;
        }
        uniform |= job.flag("prune.uniform");
        channelWise |= job.flag("prune.channel-wise");
        if (protectedLayers.isEmpty()) {
            protectedLayers = new ArrayList<>(job.integers("prune.protected-layers"));
        }
    }

    private PlanSettings settings() {
        LayerRange both = layers == null ? PlanSettings.DEFAULT_LAYERS : LayerRange.parse(layers);
        boolean hasTarget = targetParams != null || targetFraction != null;
        PruneMode m = mode != null ? PruneMode.parse(mode) : hasTarget ? PruneMode.BUDGET : PruneMode.LOCAL;
        if (ratio == null && m != PruneMode.BUDGET) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--ratio is required for mode " + m.label());
        }
        return PlanSettings.builder()
                .ratio(ratio == null ? 0 : ratio)
                .attentionLayers(attnLayers == null ? both : LayerRange.parse(attnLayers))
                .mlpLayers(mlpLayers == null ? both : LayerRange.parse(mlpLayers))
                .mode(m)
                .targetParams(targetParams)
                .targetFraction(targetFraction)
                .channelMultiple(channelMultiple)
                .kvGroupMultiple(kvGroupMultiple)
                .uniform(uniform)
                .channelWise(channelWise)
                .protectedLayers(protectedLayers)
                .build();
    }

    private static void printTable(PrintWriter w, LlamaConfig source, LlamaConfig pruned, PlanSettings s) {
        w.printf(Locale.ROOT, "model: %d layers, hidden %d, %d heads, %d kv heads, head_dim %d, intermediate %d%n",
                source.numHiddenLayers(), source.hiddenSize(), source.numAttentionHeads(), source.numKeyValueHeads(),
                source.headDim(), source.intermediateSize());
        w.printf(Locale.ROOT, "plan: mode %s, ratio %s, attention layers %s, MLP layers %s%s%n", s.mode().label(),
                s.ratio(), s.attentionLayers(), s.mlpLayers(),
                s.protectedLayers().isEmpty() ? "" : ", protected " + s.protectedLayers());
        String row = "%5s %10s %13s %8s %10s %8s %11s %13s %12s%n";
        w.printf(Locale.ROOT, row, "layer", "heads_kept", "heads_removed", "kv_kept", "kv_removed", "mlp_kept",
                "mlp_removed", "params_before", "params_after");
        for (int l = 0; l < source.numHiddenLayers(); l++) {
            w.printf(Locale.ROOT, row, l, pruned.layerHeads(l), source.layerHeads(l) - pruned.layerHeads(l),
                    pruned.layerKvHeads(l), source.layerKvHeads(l) - pruned.layerKvHeads(l),
                    pruned.layerIntermediate(l), source.layerIntermediate(l) - pruned.layerIntermediate(l),
                    source.layerParameterCount(l), pruned.layerParameterCount(l));
        }
        if (pruned.hiddenSize() != source.hiddenSize()) {
            w.printf(Locale.ROOT, "hidden_size=%d -> %d%n", source.hiddenSize(), pruned.hiddenSize());
        }
        w.printf(Locale.ROOT, "params_before=%d%n", source.parameterCount());
        w.printf(Locale.ROOT, "params_after=%d%n", pruned.parameterCount());
        w.printf(Locale.ROOT, "params_kept=%.4f%%%n", 100.0 * pruned.parameterCount() / source.parameterCount());
    }
}
