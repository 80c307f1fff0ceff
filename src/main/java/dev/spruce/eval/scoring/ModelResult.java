package dev.spruce.eval.scoring;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything evaluated for one model: perplexity per dataset, metrics per zero-shot task, the number of records
 * skipped per task, and generation samples (prompt to generated text). Map orders are kept as given.
 */
public record ModelResult(String name, long parameters, Map<String, Double> perplexities, List<TaskMetrics> tasks,
                          Map<String, Long> skippedRecords, Map<String, String> generations) {
    public ModelResult {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a model result needs a name");
        }
        perplexities = ordered(perplexities);
        tasks = List.copyOf(tasks);
        skippedRecords = ordered(skippedRecords);
        generations = ordered(generations);
    }

    private static <V> Map<String, V> ordered(Map<String, V> map) {
        return Collections.unmodifiableMap(new LinkedHashMap<>(map));
    }

    /** The mean of the reported metric over this model's tasks (the paper's "Average"); NaN without tasks. */
    @JsonProperty("averageAccuracy")
    public double averageAccuracy() {
        return tasks.stream().mapToDouble(TaskMetrics::reported).average().orElse(Double.NaN);
    }
}
