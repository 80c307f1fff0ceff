package dev.spruce.model.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import dev.spruce.io.Fs;
import dev.spruce.io.InvalidModelException;
import dev.spruce.io.JsonErrors;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.fs.Path;

/**
 * The weights of a Hugging Face model directory: a single {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}. Opening reads only the index (and checks that every shard it names
 * exists); a shard's header is read, and checked against the index, the first time one of its tensors is
 * used. Reads fetch one tensor at a time, as in {@link SafetensorsFile}.
 */
public final class SafetensorsModel implements AutoCloseable {
    public static final String SINGLE_FILE = "model.safetensors";
    public static final String INDEX_FILE = "model.safetensors.index.json";

    private final Path dir;
    /** Tensor name to shard file name (a plain name inside {@link #dir}), ordered by tensor name. */
    private final SortedMap<String, String> shardOf;
    private final Path mapSource;
    private final Map<String, SafetensorsFile> openShards = new HashMap<>();

    private SafetensorsModel(Path dir, SortedMap<String, String> shardOf, Path mapSource) {
        this.dir = dir;
        this.shardOf = Collections.unmodifiableSortedMap(shardOf);
        this.mapSource = mapSource;
    }

    public static SafetensorsModel open(Path modelDir) {
        Path index = new Path(modelDir, INDEX_FILE);
        if (Fs.exists(index)) {
            return new SafetensorsModel(modelDir, readWeightMap(modelDir, index), index);
        }
        Path single = new Path(modelDir, SINGLE_FILE);
        if (!Fs.exists(single)) {
            throw new InvalidModelException(modelDir + ": no model weights: expected " + SINGLE_FILE + " or " + INDEX_FILE);
        }
        SafetensorsFile file = SafetensorsFile.open(single);
        SortedMap<String, String> shardOf = new TreeMap<>();
        file.tensors().keySet().forEach(name -> shardOf.put(name, SINGLE_FILE));
        SafetensorsModel model = new SafetensorsModel(modelDir, shardOf, single);
        model.openShards.put(SINGLE_FILE, file);
        return model;
    }

    private static SortedMap<String, String> readWeightMap(Path dir, Path index) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(Fs.readAll(index));
        } catch (IOException e) {
            throw new InvalidModelException(index + ": not valid JSON: " + JsonErrors.oneLine(e), e);
        }
        JsonNode weightMap = root == null ? null : root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new InvalidModelException(index + ": weight_map is missing or not an object of tensor name -> shard file");
        }
        SortedMap<String, String> shardOf = new TreeMap<>();
        Map<String, String> checkedShards = new HashMap<>();
        for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
            String tensor = entry.getKey();
            JsonNode shardNode = entry.getValue();
            if (!shardNode.isTextual() || !isPlainFileName(shardNode.textValue())) {
                throw new InvalidModelException(index + ": weight_map maps tensor '" + tensor + "' to " + shardNode
                        + ", expected the file name of a shard in " + dir);
            }
            String shard = shardNode.textValue();
            if (checkedShards.putIfAbsent(shard, tensor) == null && !Fs.exists(new Path(dir, shard))) {
                throw new InvalidModelException(index + ": weight_map maps tensor '" + tensor + "' to shard '" + shard
                        + "', which does not exist in " + dir);
            }
            shardOf.put(tensor, shard);
        }
        return shardOf;
    }

    /** A file name in the model directory: no separator, no parent, and no ':' (which a Hadoop path reads as a URI). */
    private static boolean isPlainFileName(String name) {
        return !name.isEmpty() && !name.contains("/") && !name.contains("\\") && !name.contains(":")
                && !name.equals(".") && !name.equals("..");
    }

    public Path dir() {
        return dir;
    }

    /** Every tensor name, ordered by name. */
    public List<String> names() {
        return List.copyOf(shardOf.keySet());
    }

    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    /** The file name (inside {@link #dir()}) of the shard holding {@code name}. */
    public String shardOf(String name) {
        String shard = shardOf.get(name);
        if (shard == null) {
            throw new InvalidModelException(mapSource + ": tensor '" + name + "': no such tensor in the model ("
                    + shardOf.size() + " tensors)");
        }
        return shard;
    }

    /** The file that holds {@code name}: the single file, or its shard. */
    public Path fileOf(String name) {
        return new Path(dir, shardOf(name));
    }

    /** As {@link SafetensorsFile#firstNonFinite}. */
    public long firstNonFinite(String name, long first, long count) {
        return shard(name).firstNonFinite(name, first, count);
    }

    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    public float[] readFloat(String name) {
        return shard(name).readFloat(name);
    }

    public double[] readDouble(String name) {
        return shard(name).readDouble(name);
    }

    /** See {@link SafetensorsFile#readFloat(String, long, java.nio.FloatBuffer)}. */
    public void readFloat(String name, long first, java.nio.FloatBuffer into) {
        shard(name).readFloat(name, first, into);
    }

    public byte[] readRaw(String name) {
        return shard(name).readRaw(name);
    }

    private synchronized SafetensorsFile shard(String name) {
        String shard = shardOf(name);
        SafetensorsFile file = openShards.get(shard);
        if (file == null) {
            file = SafetensorsFile.open(new Path(dir, shard));
            try {
                checkShardHoldsItsTensors(shard, file);
            } catch (RuntimeException e) {
                file.close();
                throw e;
            }
            openShards.put(shard, file);
        }
        return file;
    }

    private void checkShardHoldsItsTensors(String shard, SafetensorsFile file) {
        for (Map.Entry<String, String> entry : shardOf.entrySet()) {
            if (entry.getValue().equals(shard) && !file.contains(entry.getKey())) {
                throw new InvalidModelException(mapSource + ": weight_map maps tensor '" + entry.getKey() + "' to shard '"
                        + shard + "', which has no such tensor");
            }
        }
    }

    @Override
    public synchronized void close() {
        List<RuntimeException> failures = new ArrayList<>();
        for (SafetensorsFile file : openShards.values()) {
            try {
                file.close();
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
        openShards.clear();
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            failures.subList(1, failures.size()).forEach(first::addSuppressed);
            throw first;
        }
    }
}
