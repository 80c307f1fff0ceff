package dev.spruce.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.spruce.data.TokenSample;
import dev.spruce.io.Fs;
import dev.spruce.io.JsonLayout;
import dev.spruce.spark.ExecutorModels;
import dev.spruce.spark.FailureInjection;
import dev.spruce.spark.ModelRef;
import dev.spruce.spark.Progress;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Synchronous data-parallel training on Spark; one optimizer step is one Spark job. The driver decides
 * which samples a step sees ({@link SampleOrder}), publishes the current parameter values as a broadcast,
 * and every task computes the summed-NLL gradients of its partition's share of the step on its executor's
 * cached frozen model ({@link GradientStep}). {@link OrderedReduction} adds the task results in partition order,
 * along a tree deep enough that what reaches the driver stays under half of {@code spark.driver.maxResultSize};
 * the driver normalises by the step's token count, clips, and applies AdamW and the schedule, all in double.
 * Values and gradients cross the network as float32 when the model computes in float32 or less
 * ({@link Traffic}).
 *
 * <p>The output directory receives {@code checkpoints/step-<n>/}, {@code best/} (parameters at the best
 * validation loss), {@code metrics.csv}, {@code loss.png} and, when the run is complete,
 * {@code summary.json}; each appears atomically. Nothing is written before the inputs are validated.
 */
public final class Trainer {
    public static final String CHECKPOINTS = "checkpoints";
    public static final String BEST = "best";
    public static final String METRICS_FILE = "metrics.csv";
    public static final String LOSS_CHART = "loss.png";
    public static final String SUMMARY = "summary.json";
    private static final Logger LOG = LoggerFactory.getLogger("spruce");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final SparkSession spark;
    private final JavaSparkContext sc;
    private final ModelRef model;
    private final Trainable trainable;
    private final Objective objective;
    private final TrainSettings settings;
    private final Path out;
    private final ParameterLayout layout;
    private Traffic traffic;
    private DriverTerm term;

    /**
     * @param model     the frozen base model every executor caches
     * @param trainable what is learned on top of it
     * @param out       output directory (checkpoints, metrics, best parameters)
     */
    public Trainer(SparkSession spark, ModelRef model, Trainable trainable, TrainSettings settings, Path out) {
        this(spark, model, trainable, Objective.languageModel(), settings, out);
    }

    /**
     * A trainer that minimises {@code objective} (the LM loss by the other constructor); training and validation
     * losses are the objective's, per predicted token.
     */
    public Trainer(SparkSession spark, ModelRef model, Trainable trainable, Objective objective, TrainSettings settings,
                   Path out) {
        this.objective = objective;
        this.spark = spark;
        this.sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.model = model;
        this.trainable = trainable;
        this.settings = settings;
        this.out = out;
        this.layout = ParameterLayout.of(trainable);
        this.traffic = Traffic.forModel(model.dataType());
    }

    /** Overrides the traffic the model's dtype chose (tests compare float32 with float64 traffic). */
    Trainer traffic(Traffic t) {
        this.traffic = t;
        return this;
    }

    Traffic traffic() {
        return traffic;
    }

    /**
     * Adds a data-independent term to the objective, computed on the driver each step (Compresso's Lagrangian);
     * its metrics become extra {@code metrics.csv} columns.
     */
    public Trainer driverTerm(DriverTerm t) {
        this.term = t;
        return this;
    }

    /** {@code spark.driver.maxResultSize} in bytes as this session has it (Spark's default 1g; 0 = unlimited). */
    long maxResultSize() {
        return sc.getConf().getSizeAsBytes("spark.driver.maxResultSize", "1g");
    }

    /**
     * The reduction of one step's gradients over {@code partitions} tasks; refuses, naming sizes and settings
     * that would fit, when not even one task's gradients fit the driver.
     */
    OrderedReduction.Plan gradientPlan(int partitions) {
        long bytes = OrderedReduction.resultBytes(layout, traffic, true);
        long limit = maxResultSize();
        if (OrderedReduction.driverResults(bytes, limit) < 1) {
            long parameters = 0;
            for (int p = 0; p < layout.names().size(); p++) {
                parameters += layout.size(p);
            }
            String fewer = trainable instanceof FullTrainable
                    ? "train LoRA adapters instead of every weight (spruce.recover.trainable = lora)"
                    : "train fewer parameters (fewer spruce.recover.lora.target-modules or a lower lora.rank)";
            throw new IllegalArgumentException(String.format(Locale.ROOT, "train: one task's gradients of %,d "
                    + "trainable parameters take up to %,d bytes as %s, more than half of spark.driver.maxResultSize "
                    + "= %,d bytes, the most the trainer sends the driver in one Spark action; %s, or set "
                    + "spark.driver.maxResultSize to at least %,d bytes (%s, or 0 for unlimited) with driver "
                    + "memory to match", parameters, bytes, traffic.label(), limit, fewer, 2 * bytes,
                    megabytes(2 * bytes)));
        }
        return OrderedReduction.plan(partitions, bytes, limit);
    }

    /** The reduction of one validation pass (losses and counts only) over {@code partitions} tasks. */
    OrderedReduction.Plan validationPlan(int partitions) {
        return OrderedReduction.plan(partitions, OrderedReduction.resultBytes(layout, traffic, false),
                maxResultSize());
    }

    private static String megabytes(long bytes) {
        return ((bytes + (1L << 20) - 1) >> 20) + "m";
    }

    /** Trains from {@link Trainable#initialValues} drawn with the settings' seed. */
    public TrainResult train(Dataset<TokenSample> data) {
        return train(data, null);
    }

    /**
     * Trains from the given initial values (all parameters, by name), or from {@link Trainable#initialValues}
     * when null; with {@code resume} set and a checkpoint present, continues from the latest checkpoint.
     */
    public TrainResult train(Dataset<TokenSample> data, Map<String, double[]> initialValues) {
        Path checkpoints = new Path(out, CHECKPOINTS);
        Path latest = Checkpoint.latest(checkpoints);
        if (latest != null && !settings.resume()) {
            throw new IllegalArgumentException("output " + out + " already holds checkpoint " + latest.getName()
                    + "; set train.resume to continue that run, or choose another output directory");
        }
        double[][] initial = initialValues == null ? null
                : layout.arrays(initialValues, "initial parameter values");
        int partitions = settings.partitions() > 0 ? settings.partitions() : sc.defaultParallelism();
        OrderedReduction.Plan gradientPlan = gradientPlan(partitions);
        OrderedReduction.Plan validationPlan = validationPlan(partitions);
        LOG.info("train: {} traffic; gradients per step: {}", traffic.label(), gradientPlan.describe());
        JavaRDD<TokenSample> samples = data.javaRDD().repartition(partitions).persist(StorageLevel.MEMORY_AND_DISK());
        try {
            sc.setJobDescription("train: sample ids");
            List<Long> idList = samples.map(TokenSample::getId).collect();
            long[] ids = idList.stream().mapToLong(Long::longValue).toArray();
            SampleOrder order = SampleOrder.of(ids, settings.validationSize(), settings.globalBatch(), settings.seed());
            Run run = new Run(samples, order, gradientPlan, validationPlan);
            if (latest != null) {
                run.restore(Checkpoint.read(latest, layout, settings));
            } else {
                run.start(initial != null ? initial : layout.arrays(trainable.initialValues(settings.seed()),
                        "initial values of " + trainable.getClass().getSimpleName()));
            }
            return run.train();
        } finally {
            samples.unpersist(false);
            sc.setJobDescription(null);
        }
    }

    /** Parameter values of one version (the number of optimizer steps applied), as broadcast to tasks. */
    static final class ParameterSnapshot implements Serializable {
        private static final long serialVersionUID = 2L;
        final long version;
        final ParameterValues values;

        ParameterSnapshot(long version, ParameterValues values) {
            this.version = version;
            this.values = values;
        }
    }

    /** The mutable state of one run, on the driver. */
    private final class Run {
        private final JavaRDD<TokenSample> samples;
        private final SampleOrder order;
        private final long totalSteps;
        private final OrderedReduction.Plan gradientPlan;
        private final OrderedReduction.Plan validationPlan;
        private double[][] parameters;
        private AdamW optimizer;
        private long step;
        private double bestLoss = Double.NaN;
        private long bestStep;
        private TrainingMetrics metrics = new TrainingMetrics(term == null ? List.of() : term.columns());
        private final ParameterGroup[] groups = new ParameterGroup[layout.names().size()];
        private Broadcast<ParameterSnapshot> published;
        private double computeSeconds;
        private double reduceSeconds;
        private double broadcastSeconds;
        private double optimizerSeconds;
        private double validationSeconds;
        private double checkpointSeconds;

        Run(JavaRDD<TokenSample> samples, SampleOrder order, OrderedReduction.Plan gradientPlan,
            OrderedReduction.Plan validationPlan) {
            this.samples = samples;
            this.order = order;
            this.gradientPlan = gradientPlan;
            this.validationPlan = validationPlan;
            this.totalSteps = settings.totalSteps(order.training().length);
            for (int p = 0; p < groups.length; p++) {
                groups[p] = trainable.group(layout.names().get(p));
            }
        }

        void start(double[][] initial) {
            parameters = initial;
            optimizer = AdamW.fresh(settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay(),
                    initial);
        }

        void restore(Checkpoint.Loaded loaded) {
            Checkpoint.State s = loaded.state();
            Path where = new Path(loaded.dir(), Checkpoint.STATE);
            same(where, "total_steps", s.totalSteps(), totalSteps);
            same(where, "global_batch", s.globalBatch(), settings.globalBatch());
            same(where, "training_samples", s.trainingSamples(), order.training().length);
            same(where, "validation_samples", s.validationSamples(), order.validation().length);
            same(where, "seed", s.seed(), settings.seed());
            parameters = loaded.parameters();
            optimizer = loaded.optimizer();
            step = s.step();
            bestLoss = s.bestValidationLoss();
            bestStep = s.bestStep();
            metrics = loaded.metrics();
            List<String> columns = term == null ? List.of() : term.columns();
            if (!metrics.extraColumns().equals(columns)) {
                throw new IllegalArgumentException(loaded.dir() + ": metrics.csv has extra columns "
                        + metrics.extraColumns() + ", this run writes " + columns + "; resume a run with the method "
                        + "it started with");
            }
            LOG.info("train: resuming from {} (step {} of {})", loaded.dir(), step, totalSteps);
        }

        private static void same(Path where, String field, long saved, long now) {
            if (saved != now) {
                throw new IllegalArgumentException(where + ": " + field + " is " + saved + ", this run has " + now
                        + "; resume a run with the data and settings it started with");
            }
        }

        TrainResult train() {
            Progress progress = new Progress(spark, "train", totalSteps - step);
            long first = step;
            try {
                while (step < totalSteps) {
                    step(progress, first);
                }
                long started = System.nanoTime();
                writeMetricsFiles();
                Map<String, double[]> best = order.validation().length == 0 ? null
                        : layout.map(Checkpoint.readParameters(new Path(out, BEST), layout));
                TrainResult result = new TrainResult(layout.map(parameters), best, step, order.training().length,
                        order.validation().length, metrics.tokens(), bestLoss, bestStep, metrics,
                        new TrainResult.Timings(computeSeconds, reduceSeconds, broadcastSeconds, optimizerSeconds,
                                validationSeconds, checkpointSeconds + seconds(started)));
                Fs.writeStringAtomically(new Path(out, SUMMARY), summaryJson(result));
                return result;
            } finally {
                unpublish();
                progress.finish();
            }
        }

        private void step(Progress progress, long first) {
            long s = step + 1;
            progress.describe("step", s - first);
            long started = System.nanoTime();
            long[] ids = order.idsOfStep(s);
            StepTotals totals = gradientJob(publish(), ids, s);
            double jobSeconds = seconds(started);
            computeSeconds += totals.computeSeconds();
            reduceSeconds += Math.max(0, jobSeconds - totals.computeSeconds());
            unpublish(); // the values change now

            long optimizerStarted = System.nanoTime();
            double[][] gradients = totals.gradients() != null ? totals.gradients() : zeros();
            double scale = 1.0 / Math.max(1, totals.tokens());
            for (double[] g : gradients) {
                for (int i = 0; i < g.length; i++) {
                    g[i] *= scale;
                }
            }
            DriverTerm.Contribution extra = term == null ? null
                    : term.apply(s, live(parameters), live(gradients));
            double norm = GradientClipping.clip(clipped(gradients), settings.maxGradNorm());
            double lr = learningRate(s);
            double[] rates = new double[parameters.length];
            double[] decays = new double[parameters.length];
            boolean[] active = new boolean[parameters.length];
            for (int p = 0; p < parameters.length; p++) {
                rates[p] = groups[p].rate(lr, settings.learningRate());
                decays[p] = groups[p].decay(settings.weightDecay());
                active[p] = groups[p].active(s);
            }
            optimizer.update(parameters, gradients, rates, decays, active);
            if (term != null) {
                term.afterUpdate(s, live(parameters));
            }
            step = s;
            optimizerSeconds += seconds(optimizerStarted);
            double loss = totals.tokens() == 0 ? Double.NaN : totals.loss() / totals.tokens();
            if (totals.tokens() == 0) {
                LOG.warn("train: step {} has no predicted token in its {} samples (all prompt or padding)", s,
                        ids.length);
            }
            metrics.add(new TrainingMetrics.Row(s, loss, Double.NaN, lr, norm, totals.tokens(), seconds(started),
                    extra == null ? new double[0] : extra.metrics()));

            String validation = "";
            if (order.validation().length > 0 && (s % settings.evalEvery() == 0 || s == totalSteps)) {
                double v = validate(progress, first);
                validation = String.format(Locale.ROOT, " val_loss %.4f", v);
            }
            if (s % settings.saveEvery() == 0 || s == totalSteps) {
                long saveStarted = System.nanoTime();
                Checkpoint.write(Checkpoint.dir(new Path(out, CHECKPOINTS), s), layout, parameters, optimizer,
                        state(lr), metrics);
                writeMetricsFiles();
                checkpointSeconds += seconds(saveStarted);
            }
            String described = extra == null ? "" : term.describe(extra);
            LOG.info(String.format(Locale.ROOT, "train: step %d/%d loss %.4f lr %.3g grad_norm %.4f tokens/s %.0f%s%s, "
                    + "about %s left", s, totalSteps, loss, lr, norm, totals.tokens() / Math.max(jobSeconds, 1e-9),
                    validation, described.isEmpty() ? "" : " " + described, progress.remaining(s - first)));
            progress.done(s - first);
        }

        private double learningRate(long s) {
            return settings.learningRate() * settings.schedule().factor(s - 1, settings.warmupSteps(), totalSteps);
        }

        private double validate(Progress progress, long first) {
            long started = System.nanoTime();
            progress.describe("validation after step", step - first);
            StepTotals totals = validationJob(publish(), order.validation());
            double loss = totals.tokens() == 0 ? Double.NaN : totals.loss() / totals.tokens();
            metrics.setLatestValidationLoss(loss);
            validationSeconds += seconds(started);
            if (Double.isNaN(bestLoss) || loss < bestLoss) {
                bestLoss = loss;
                bestStep = step;
                long saveStarted = System.nanoTime();
                Checkpoint.writeParameters(new Path(out, BEST), layout, parameters, step, loss);
                checkpointSeconds += seconds(saveStarted);
            }
            return loss;
        }

        private Checkpoint.State state(double lr) {
            return new Checkpoint.State(step, totalSteps, step / order.stepsPerEpoch(),
                    (step % order.stepsPerEpoch()) * settings.globalBatch(), settings.globalBatch(),
                    order.training().length, order.validation().length, settings.seed(), bestLoss, bestStep, lr,
                    step < totalSteps ? learningRate(step + 1) : 0.0, settings.schedule().label(),
                    settings.warmupSteps());
        }

        /** Named views of the arrays (not copies), for the driver term. */
        private Map<String, double[]> live(double[][] arrays) {
            Map<String, double[]> m = new java.util.LinkedHashMap<>();
            for (int p = 0; p < arrays.length; p++) {
                m.put(layout.names().get(p), arrays[p]);
            }
            return m;
        }

        /** The gradients that clipping measures and scales: the groups that ask for it. */
        private double[][] clipped(double[][] gradients) {
            List<double[]> c = new ArrayList<>();
            for (int p = 0; p < gradients.length; p++) {
                if (groups[p].clipped()) {
                    c.add(gradients[p]);
                }
            }
            return c.toArray(new double[0][]);
        }

        private double[][] zeros() {
            double[][] z = new double[parameters.length][];
            for (int p = 0; p < z.length; p++) {
                z[p] = new double[parameters[p].length];
            }
            return z;
        }

        /** The current values as a broadcast, published once per version. */
        private Broadcast<ParameterSnapshot> publish() {
            if (published == null) {
                long started = System.nanoTime();
                published = sc.broadcast(new ParameterSnapshot(step, ParameterValues.of(parameters, traffic)));
                broadcastSeconds += seconds(started);
            }
            return published;
        }

        private void unpublish() {
            if (published != null) {
                long started = System.nanoTime();
                published.destroy();
                published = null;
                broadcastSeconds += seconds(started);
            }
        }

        private StepTotals gradientJob(Broadcast<ParameterSnapshot> values, long[] ids, long s) {
            ModelRef ref = model;
            Trainable t = trainable;
            Objective o = objective;
            Traffic wire = traffic;
            long version = step;
            long seed = settings.seed();
            int microBatch = settings.microBatch();
            int padId = settings.padId();
            JavaRDD<Tuple2<Integer, StepTotals>> partials = samples.mapPartitionsWithIndex((index, it) -> {
                FailureInjection.maybeFail("train");
                List<TokenSample> mine = select(it, ids);
                if (mine.isEmpty()) {
                    return Collections.emptyIterator();
                }
                StepTotals totals = GradientStep.gradients(ExecutorModels.get(ref), t, o, valuesOf(values, version),
                        mine, s, seed, microBatch, padId);
                return List.of(new Tuple2<>(index, totals.shipped(wire))).iterator();
            }, true);
            return OrderedReduction.reduce(JavaPairRDD.fromJavaRDD(partials), gradientPlan, wire);
        }

        private StepTotals validationJob(Broadcast<ParameterSnapshot> values, long[] ids) {
            ModelRef ref = model;
            Trainable t = trainable;
            Objective o = objective;
            long version = step;
            long seed = settings.seed();
            int microBatch = settings.microBatch();
            int padId = settings.padId();
            JavaRDD<Tuple2<Integer, StepTotals>> partials = samples.mapPartitionsWithIndex((index, it) -> {
                List<TokenSample> mine = select(it, ids);
                if (mine.isEmpty()) {
                    return Collections.emptyIterator();
                }
                return List.of(new Tuple2<>(index, GradientStep.loss(ExecutorModels.get(ref), t, o,
                        valuesOf(values, version), mine, version, seed, microBatch, padId))).iterator();
            }, true);
            return OrderedReduction.reduce(JavaPairRDD.fromJavaRDD(partials), validationPlan, traffic);
        }

        private void writeMetricsFiles() {
            Fs.writeStringAtomically(new Path(out, METRICS_FILE), metrics.toCsv());
            Fs.writeAtomically(new Path(out, LOSS_CHART), metrics.lossChart().png(1000, 600));
            if (term != null) {
                term.charts(metrics, live(parameters)).forEach((file, png) -> Fs.writeAtomically(new Path(out, file),
                        png));
            }
        }
    }

    /** The task's samples among {@code ids}, in the order of {@code ids}. */
    static List<TokenSample> select(Iterator<TokenSample> partition, long[] ids) {
        Map<Long, Integer> position = new HashMap<>();
        for (int i = 0; i < ids.length; i++) {
            position.put(ids[i], i);
        }
        List<TokenSample> mine = new ArrayList<>();
        while (partition.hasNext()) {
            TokenSample sample = partition.next();
            if (position.containsKey(sample.getId())) {
                mine.add(sample);
            }
        }
        mine.sort(Comparator.comparing(sample -> position.get(sample.getId())));
        return mine;
    }

    private static ParameterValues valuesOf(Broadcast<ParameterSnapshot> broadcast, long version) {
        ParameterSnapshot snapshot = broadcast.value();
        if (snapshot.version != version) {
            throw new IllegalStateException("task expected parameters after step " + version + ", the broadcast holds "
                    + "step " + snapshot.version);
        }
        return snapshot.values;
    }

    private static double seconds(long startedNanos) {
        return (System.nanoTime() - startedNanos) / 1e9;
    }

    private static String summaryJson(TrainResult r) {
        ObjectNode n = JSON.createObjectNode();
        n.put("steps", r.steps());
        n.put("training_samples", r.trainingSamples());
        n.put("validation_samples", r.validationSamples());
        n.put("tokens", r.tokens());
        Checkpoint.putNumber(n, "best_validation_loss", r.bestValidationLoss());
        n.put("best_step", r.bestStep());
        List<TrainingMetrics.Row> rows = r.metrics().rows();
        double finalLoss = rows.isEmpty() ? Double.NaN : rows.get(rows.size() - 1).trainLoss();
        Checkpoint.putNumber(n, "final_train_loss", finalLoss);
        ObjectNode t = n.putObject("seconds");
        t.put("compute", r.timings().compute());
        t.put("reduce", r.timings().reduce());
        t.put("broadcast", r.timings().broadcast());
        t.put("optimizer", r.timings().optimizer());
        t.put("validation", r.timings().validation());
        t.put("checkpoint", r.timings().checkpoint());
        return JsonLayout.format(n);
    }
}
