package dev.spruce.pipeline;

import ai.djl.engine.Engine;
import dev.spruce.model.TorchNatives;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/** Versions recorded in run.json, so a result can be traced to the software that produced it. */
public final class Versions {
    public static final String SPRUCE = "0.1.0";

    private Versions() {}

    public static Map<String, String> all(SparkSession spark) {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("spruce", SPRUCE);
        v.put("spark", spark == null ? "none" : spark.version());
        TorchNatives.prepare();
        v.put("djl", Engine.getDjlVersion());
        v.put("pytorch", Engine.getEngine("PyTorch").getVersion());
        v.put("java", System.getProperty("java.version"));
        return v;
    }
}
