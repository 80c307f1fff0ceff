package dev.spruce.model.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.spruce.io.InvalidModelException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.hadoop.fs.Path;

/**
 * A parsed and fully validated safetensors header. Validation is complete before any tensor is read, so a
 * reader can trust every offset: each tensor lies inside the data section, spans exactly its shape times its
 * element size, and no two tensors share a byte.
 */
final class SafetensorsHeader {
    static final String METADATA_KEY = "__metadata__";

    final SortedMap<String, TensorInfo> tensors;
    final Map<String, String> metadata;

    private SafetensorsHeader(SortedMap<String, TensorInfo> tensors, Map<String, String> metadata) {
        this.tensors = Collections.unmodifiableSortedMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Parses the JSON header of {@code file}, whose data section holds {@code dataLength} bytes. */
    static SafetensorsHeader parse(Path file, byte[] json, long dataLength) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw problem(file, "header is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw problem(file, "header is not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw problem(file, "header is " + describe(root) + ", expected a JSON object");
        }
        SortedMap<String, TensorInfo> tensors = new TreeMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> entry : root.properties()) {
            if (entry.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(file, entry.getValue());
            } else {
                tensors.put(entry.getKey(), parseTensor(file, entry.getKey(), entry.getValue(), dataLength));
            }
        }
        checkNoOverlap(file, tensors.values());
        return new SafetensorsHeader(tensors, metadata);
    }

    private static Map<String, String> parseMetadata(Path file, JsonNode node) {
        if (!node.isObject()) {
            throw problem(file, METADATA_KEY + " is " + describe(node) + ", expected an object of strings");
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!entry.getValue().isTextual()) {
                throw problem(file, METADATA_KEY + " value of '" + entry.getKey() + "' is " + describe(entry.getValue())
                        + ", expected a string");
            }
            metadata.put(entry.getKey(), entry.getValue().textValue());
        }
        return metadata;
    }

    private static TensorInfo parseTensor(Path file, String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw problem(file, name, "entry is " + describe(node) + ", expected an object with dtype, shape and data_offsets");
        }
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual()) {
            throw problem(file, name, "dtype is " + describe(dtypeNode) + ", expected a string such as \"F32\"");
        }
        DType dtype = DType.fromSafetensorsName(dtypeNode.textValue()).orElseThrow(() -> problem(file, name,
                "unknown dtype '" + dtypeNode.textValue() + "', expected one of " + supportedNames()));
        long[] shape = nonNegativeLongs(file, name, "shape", node.get("shape"), -1);
        long byteSize;
        try {
            byteSize = Math.multiplyExact(TensorSpec.numelOf(shape), (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw problem(file, name, "shape " + Arrays.toString(shape) + " x " + dtype + " is larger than 2^63 bytes");
        }
        long[] offsets = nonNegativeLongs(file, name, "data_offsets", node.get("data_offsets"), 2);
        long begin = offsets[0];
        long end = offsets[1];
        String offsetsText = "data_offsets " + Arrays.toString(offsets);
        if (begin > end) {
            throw problem(file, name, offsetsText + " begin is after end");
        }
        if (end > dataLength) {
            throw problem(file, name, offsetsText + " end past the data section of " + dataLength
                    + " bytes (file truncated or offsets wrong)");
        }
        if (end - begin != byteSize) {
            throw problem(file, name, offsetsText + " span " + (end - begin) + " bytes but shape " + Arrays.toString(shape)
                    + " x " + dtype + " needs " + byteSize);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] nonNegativeLongs(Path file, String name, String field, JsonNode node, int requiredLength) {
        String expected = requiredLength < 0 ? "an array of non-negative integers"
                : "an array of " + requiredLength + " non-negative integers";
        if (node == null || !node.isArray() || (requiredLength >= 0 && node.size() != requiredLength)) {
            throw problem(file, name, field + " is " + (node == null ? "missing" : node.toString()) + ", expected " + expected);
        }
        long[] values = new long[node.size()];
        for (int i = 0; i < values.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw problem(file, name, field + " " + node + " has entry " + v + ", expected " + expected);
            }
            values[i] = v.longValue();
        }
        return values;
    }

    private static void checkNoOverlap(Path file, Iterable<TensorInfo> tensors) {
        List<TensorInfo> byBegin = new ArrayList<>();
        for (TensorInfo t : tensors) {
            if (t.byteSize() > 0) {
                byBegin.add(t);
            }
        }
        byBegin.sort(Comparator.comparingLong(TensorInfo::begin));
        TensorInfo furthest = null;
        for (TensorInfo t : byBegin) {
            if (furthest != null && t.begin() < furthest.end()) {
                throw problem(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end() + "] overlap tensor '"
                        + furthest.name() + "' at [" + furthest.begin() + ", " + furthest.end() + "]");
            }
            if (furthest == null || t.end() > furthest.end()) {
                furthest = t;
            }
        }
    }

    private static String supportedNames() {
        return Arrays.stream(DType.values()).map(DType::safetensorsName).toList().toString();
    }

    private static String describe(JsonNode node) {
        return node == null ? "missing" : "a JSON " + node.getNodeType().name().toLowerCase(Locale.ROOT);
    }

    static InvalidModelException problem(Path file, String what) {
        return new InvalidModelException(file + ": " + what);
    }

    static InvalidModelException problem(Path file, String tensor, String what) {
        return new InvalidModelException(file + ": tensor '" + tensor + "': " + what);
    }
}
