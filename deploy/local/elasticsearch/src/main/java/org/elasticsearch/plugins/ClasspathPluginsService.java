package org.elasticsearch.plugins;

import org.elasticsearch.Build;
import org.elasticsearch.action.admin.cluster.node.info.PluginsAndModules;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.plugins.spi.SPIClassIterator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A PluginsService that takes plugin classes from the classpath instead of scanning $ES_HOME/modules and plugins.
 *
 * Why it lives in org.elasticsearch.plugins: LoadedPlugin, loadPlugin, loadExtensions, createExtension and the
 * PluginsLoader constructor are package-private. It follows what the ES test framework's MockPluginsService does
 * (that class is not usable here: the test framework drags in the randomized-testing bootstrap).
 */
public class ClasspathPluginsService extends PluginsService {

    private final List<LoadedPlugin> loaded;

    public ClasspathPluginsService(Environment env, List<Class<? extends Plugin>> pluginClasses) {
        // An empty loader: nothing is scanned on disk, so modules/ and plugins/ may stay empty.
        super(env.settings(), env.configDir(), new PluginsLoader(Collections.emptySet(), Collections.emptySet(), Collections.emptyMap()));
        List<LoadedPlugin> list = new ArrayList<>();
        for (Class<? extends Plugin> cls : pluginClasses) {
            Plugin plugin = loadPlugin(cls, env.settings(), env.configDir());
            PluginDescriptor descriptor = new PluginDescriptor(
                cls.getSimpleName(), "classpath plugin", "NA", Build.current().version(),
                Integer.toString(Runtime.version().feature()), cls.getName(), null, List.of(),
                false, false, false, false);
            list.add(new LoadedPlugin(descriptor, plugin, ClasspathPluginsService.class.getClassLoader()));
        }
        loadExtensions(list);
        this.loaded = List.copyOf(list);
    }

    @Override
    protected final List<LoadedPlugin> plugins() {
        return loaded;
    }

    @Override
    public PluginsAndModules info() {
        return new PluginsAndModules(loaded.stream().map(p -> new PluginRuntimeInfo(p.descriptor())).toList(), List.of());
    }

    /**
     * All plugins share one class loader, so the stock implementation would find every META-INF/services
     * entry once per plugin and create duplicates. Create each provider class once, and skip a provider whose
     * one-argument constructor wants a different plugin than the one at hand.
     */
    @Override
    public <T> List<? extends T> loadServiceProviders(Class<T> service) {
        Map<Class<?>, T> result = new LinkedHashMap<>();
        for (LoadedPlugin lp : loaded) {
            var it = SPIClassIterator.get(service, lp.instance().getClass().getClassLoader());
            while (it.hasNext()) {
                Class<? extends T> cls = it.next();
                if (result.containsKey(cls) || wantsOtherPlugin(cls, lp.instance())) {
                    continue;
                }
                result.put(cls, createExtension(cls, service, lp.instance()));
            }
        }
        return List.copyOf(result.values());
    }

    private static boolean wantsOtherPlugin(Class<?> cls, Plugin plugin) {
        for (var c : cls.getConstructors()) {
            if (c.getParameterCount() == 1 && c.getParameterTypes()[0] != plugin.getClass()) {
                return true;
            }
        }
        return false;
    }
}
