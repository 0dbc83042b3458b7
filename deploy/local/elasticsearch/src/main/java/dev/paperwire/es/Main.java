package dev.paperwire.es;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.ClasspathNode;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Starts one real Elasticsearch node for local development and tests.
 *
 * Usage: java -cp ... dev.paperwire.es.Main path.home=/dir [key=value ...]
 * Every argument is an Elasticsearch setting (like -E in the stock CLI) and wins over the defaults below.
 * Stops cleanly on SIGTERM/SIGINT (a shutdown hook closes the node, which flushes the shards).
 */
public final class Main {

    public static void main(String[] args) throws Exception {
        Settings.Builder b = Settings.builder()
            .put("cluster.name", "paperwire-local")
            .put("node.name", "paperwire-es")
            // One node, no cluster bootstrap or discovery of peers.
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", "9200")
            // Dev machines are often fuller than 90%; the disk watermarks would then refuse to allocate shards.
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            // The real-memory breaker trips spuriously with a small heap.
            .put("indices.breaker.total.use_real_memory", false);
        for (String a : args) {
            int eq = a.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("expected key=value, got [" + a + "]");
            }
            b.put(a.substring(0, eq), a.substring(eq + 1));
        }
        Settings settings = b.build();
        if (settings.get("path.home") == null) {
            throw new IllegalArgumentException("path.home=<dir> is required");
        }

        // Logging first, as in the stock bootstrap: ES refuses to configure log4j once its status logger saw an error.
        LogConfigurator.registerErrorListener();
        Environment env = InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), null, () -> "paperwire-es");
        Path log4jConfig = env.configDir().resolve("log4j2.properties");
        if (Files.exists(log4jConfig) == false) {
            // LogConfigurator reads config/log4j2.properties; ship a console-only default (stdout goes to the log file).
            Files.createDirectories(env.configDir());
            try (InputStream in = Main.class.getResourceAsStream("/paperwire-log4j2.properties")) {
                Files.copy(in, log4jConfig);
            }
        }
        LogConfigurator.setNodeName(env.settings().get("node.name"));
        LogConfigurator.configure(env, true);
        Logger logger = LogManager.getLogger(Main.class);
        Node node;
        try {
            node = new ClasspathNode(env, List.of(Netty4Plugin.class, RestRootPlugin.class, CommonAnalysisPlugin.class));
        } catch (Throwable t) {
            // Exit explicitly: threads started during construction would otherwise keep a half-built JVM alive.
            logger.error("Elasticsearch node failed to initialize", t);
            System.exit(1);
            return;
        }

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.prepareForClose();
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                logger.warn("error while closing the node", e);
            } finally {
                stopped.countDown();
            }
        }, "paperwire-es-shutdown"));

        try {
            node.start();
        } catch (Throwable t) {
            logger.error("Elasticsearch node failed to start", t);
            System.exit(1); // the shutdown hook closes what was started
        }
        // Keep main alive until the shutdown hook has closed the node.
        stopped.await();
    }
}
