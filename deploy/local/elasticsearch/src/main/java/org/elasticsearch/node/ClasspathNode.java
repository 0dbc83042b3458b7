package org.elasticsearch.node;

import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.ClasspathPluginsService;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.plugins.PluginsLoader;
import org.elasticsearch.plugins.PluginsService;

import java.util.List;

/**
 * A Node whose plugins are classes on the classpath (Netty HTTP + our analysis plugin).
 *
 * Why it lives in org.elasticsearch.node: since 8.10 (and in 9.x) the only way to swap the plugins service is
 * NodeConstruction.prepareConstruction with a NodeServiceProvider, and both, like the Node(NodeConstruction)
 * constructor, are package-private. This is the same route the ES test framework's MockNode takes.
 * Compiled against the pinned server jar: a different minor may change these signatures.
 */
public class ClasspathNode extends Node {

    public ClasspathNode(Environment env, List<Class<? extends Plugin>> plugins) {
        super(NodeConstruction.prepareConstruction(env, null, new NodeServiceProvider() {
            @Override
            PluginsService newPluginService(Environment environment, PluginsLoader ignored) {
                return new ClasspathPluginsService(environment, plugins);
            }
        }, true));
    }
}
