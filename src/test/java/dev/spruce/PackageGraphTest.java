package dev.spruce;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The main packages form an acyclic graph, and every package says in its package-info what it is for. Edges are
 * read from the sources: imports (static ones too) and fully qualified names in code, comments and strings left out.
 */
class PackageGraphTest {
    private static final Path MAIN = Path.of("src/main/java");
    private static final Pattern PACKAGE = Pattern.compile("^package ([\\w.]+);", Pattern.MULTILINE);
    /** A spruce package followed by a class name: {@code dev.spruce.eval.tasks.McTask}. */
    private static final Pattern REFERENCE = Pattern.compile("\\bdev\\.spruce((?:\\.[a-z]\\w*)*)\\.[A-Z]");

    @Test
    void mainPackagesHaveNoCycle() {
        Map<String, Set<String>> graph = packageGraph(MAIN);
        assertTrue(graph.size() >= 15, "expected the spruce packages under " + MAIN + ", found " + graph.keySet());
        List<List<String>> cycles = cycles(graph);
        if (!cycles.isEmpty()) {
            StringBuilder message = new StringBuilder("package cycles (each a strongly connected set, with one loop):");
            for (List<String> cycle : cycles) {
                message.append("\n  ").append(String.join(" -> ", cycle));
            }
            fail(message.toString());
        }
    }

    @Test
    void everyPackageSaysWhatItIsFor() throws IOException {
        List<String> missing = new ArrayList<>();
        try (Stream<Path> dirs = Files.walk(MAIN)) {
            for (Path dir : dirs.filter(Files::isDirectory).toList()) {
                boolean hasClasses;
                try (Stream<Path> files = Files.list(dir)) {
                    hasClasses = files.anyMatch(f -> f.toString().endsWith(".java"));
                }
                if (!hasClasses) {
                    continue;
                }
                Path info = dir.resolve("package-info.java");
                if (!Files.exists(info) || !Files.readString(info).contains("/**")) {
                    missing.add(MAIN.relativize(dir).toString().replace('/', '.'));
                }
            }
        }
        assertEquals(List.of(), missing, "packages without a documented package-info.java");
    }

    /** The cycle finder itself: a three-package loop and a two-package loop are found, a diamond is not. */
    @Test
    void cycleFinderFindsLoopsAndOnlyLoops() {
        Map<String, Set<String>> graph = new TreeMap<>();
        graph.put("a", Set.of("b", "c"));
        graph.put("b", Set.of("d"));
        graph.put("c", Set.of("d"));
        graph.put("d", Set.of());
        assertEquals(List.of(), cycles(graph));

        graph.put("d", Set.of("e"));
        graph.put("e", Set.of("f", "x"));
        graph.put("f", Set.of("d"));
        graph.put("x", Set.of("y"));
        graph.put("y", Set.of("x"));
        List<List<String>> cycles = cycles(graph);
        assertEquals(2, cycles.size(), cycles.toString());
        assertTrue(cycles.contains(List.of("d", "e", "f", "d")), cycles.toString());
        assertTrue(cycles.contains(List.of("x", "y", "x")), cycles.toString());
    }

    @Test
    void edgesComeFromImportsAndQualifiedNamesButNotFromComments() {
        String source = """
                package dev.spruce.a;

                import dev.spruce.b.B;
                import static dev.spruce.c.C.helper;

                /** Mentions {@link dev.spruce.d.D} only in a comment. */
                class A {
                    dev.spruce.e.sub.E e; // dev.spruce.f.F in a line comment
                    String s = "dev.spruce.g.G";
                }
                """;
        assertEquals(Set.of("dev.spruce.b", "dev.spruce.c", "dev.spruce.e.sub"), referencedPackages(source));
    }

    static Map<String, Set<String>> packageGraph(Path root) {
        Map<String, Set<String>> graph = new TreeMap<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : files.filter(f -> f.toString().endsWith(".java")).toList()) {
                String source = Files.readString(file, StandardCharsets.UTF_8);
                Matcher pkg = PACKAGE.matcher(source);
                if (!pkg.find()) {
                    continue;
                }
                Set<String> edges = graph.computeIfAbsent(pkg.group(1), k -> new TreeSet<>());
                for (String target : referencedPackages(source)) {
                    if (!target.equals(pkg.group(1))) {
                        edges.add(target);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return graph;
    }

    static Set<String> referencedPackages(String source) {
        Set<String> packages = new TreeSet<>();
        Matcher m = REFERENCE.matcher(codeOnly(source).replaceAll("(?m)^package [^\\n]*", ""));
        while (m.find()) {
            packages.add("dev.spruce" + m.group(1));
        }
        return packages;
    }

    /** The source without comments, string and character literals (text blocks included). */
    static String codeOnly(String source) {
        StringBuilder out = new StringBuilder(source.length());
        int i = 0;
        int n = source.length();
        while (i < n) {
            char c = source.charAt(i);
            if (source.startsWith("//", i)) {
                while (i < n && source.charAt(i) != '\n') {
                    i++;
                }
            } else if (source.startsWith("/*", i)) {
                int end = source.indexOf("*/", i + 2);
                i = end < 0 ? n : end + 2;
                out.append(' ');
            } else if (source.startsWith("\"\"\"", i)) {
                int end = source.indexOf("\"\"\"", i + 3);
                i = end < 0 ? n : end + 3;
                out.append("\"\"");
            } else if (c == '"' || c == '\'') {
                i++;
                while (i < n && source.charAt(i) != c) {
                    i += source.charAt(i) == '\\' ? 2 : 1;
                }
                i++;
                out.append("\"\"");
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }

    /** One loop per strongly connected set of two or more packages (Tarjan), each closed on its first package. */
    static List<List<String>> cycles(Map<String, Set<String>> graph) {
        Map<String, Integer> index = new HashMap<>();
        Map<String, Integer> low = new HashMap<>();
        Deque<String> stack = new ArrayDeque<>();
        Set<String> onStack = new TreeSet<>();
        List<Set<String>> components = new ArrayList<>();
        int[] counter = {0};
        for (String v : graph.keySet()) {
            if (!index.containsKey(v)) {
                strongConnect(v, graph, index, low, stack, onStack, components, counter);
            }
        }
        List<List<String>> loops = new ArrayList<>();
        for (Set<String> component : components) {
            if (component.size() > 1) {
                loops.add(loopWithin(component, graph));
            }
        }
        return loops;
    }

    private static void strongConnect(String v, Map<String, Set<String>> graph, Map<String, Integer> index,
                                      Map<String, Integer> low, Deque<String> stack, Set<String> onStack,
                                      List<Set<String>> components, int[] counter) {
        index.put(v, counter[0]);
        low.put(v, counter[0]);
        counter[0]++;
        stack.push(v);
        onStack.add(v);
        for (String w : graph.getOrDefault(v, Set.of())) {
            if (!index.containsKey(w)) {
                strongConnect(w, graph, index, low, stack, onStack, components, counter);
                low.put(v, Math.min(low.get(v), low.get(w)));
            } else if (onStack.contains(w)) {
                low.put(v, Math.min(low.get(v), index.get(w)));
            }
        }
        if (low.get(v).equals(index.get(v))) {
            Set<String> component = new TreeSet<>();
            String w;
            do {
                w = stack.pop();
                onStack.remove(w);
                component.add(w);
            } while (!w.equals(v));
            components.add(component);
        }
    }

    /** A shortest loop through the component's first package, found breadth-first inside the component. */
    private static List<String> loopWithin(Set<String> component, Map<String, Set<String>> graph) {
        String start = component.iterator().next();
        Map<String, String> parent = new HashMap<>();
        Deque<String> queue = new ArrayDeque<>(List.of(start));
        while (!queue.isEmpty()) {
            String v = queue.poll();
            for (String w : new TreeSet<>(graph.getOrDefault(v, Set.of()))) {
                if (!component.contains(w)) {
                    continue;
                }
                if (w.equals(start)) {
                    List<String> loop = new ArrayList<>();
                    for (String u = v; u != null; u = parent.get(u)) {
                        loop.add(0, u);
                    }
                    loop.add(start);
                    return loop;
                }
                if (!parent.containsKey(w) && !w.equals(start)) {
                    parent.put(w, v);
                    queue.add(w);
                }
            }
        }
        throw new IllegalStateException("no loop through " + start + " in " + component);
    }
}
