package dev.paperwire.es;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.CharArraySet;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.Tokenizer;
import org.apache.lucene.analysis.charfilter.HTMLStripCharFilter;
import org.apache.lucene.analysis.charfilter.MappingCharFilter;
import org.apache.lucene.analysis.charfilter.NormalizeCharMap;
import org.apache.lucene.analysis.classic.ClassicTokenizer;
import org.apache.lucene.analysis.core.KeywordTokenizer;
import org.apache.lucene.analysis.core.LetterTokenizer;
import org.apache.lucene.analysis.core.DecimalDigitFilter;
import org.apache.lucene.analysis.core.UpperCaseFilter;
import org.apache.lucene.analysis.core.WhitespaceTokenizer;
import org.apache.lucene.analysis.email.UAX29URLEmailTokenizer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.en.EnglishMinimalStemFilter;
import org.apache.lucene.analysis.en.EnglishPossessiveFilter;
import org.apache.lucene.analysis.en.KStemFilter;
import org.apache.lucene.analysis.en.PorterStemFilter;
import org.apache.lucene.analysis.miscellaneous.ASCIIFoldingFilter;
import org.apache.lucene.analysis.miscellaneous.LengthFilter;
import org.apache.lucene.analysis.miscellaneous.SetKeywordMarkerFilter;
import org.apache.lucene.analysis.miscellaneous.TrimFilter;
import org.apache.lucene.analysis.miscellaneous.TruncateTokenFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterGraphFilter;
import org.apache.lucene.analysis.miscellaneous.WordDelimiterIterator;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenFilter;
import org.apache.lucene.analysis.ngram.EdgeNGramTokenizer;
import org.apache.lucene.analysis.ngram.NGramTokenFilter;
import org.apache.lucene.analysis.ngram.NGramTokenizer;
import org.apache.lucene.analysis.pattern.PatternReplaceCharFilter;
import org.apache.lucene.analysis.pattern.PatternTokenizer;
import org.apache.lucene.analysis.reverse.ReverseStringFilter;
import org.apache.lucene.analysis.snowball.SnowballFilter;
import org.apache.lucene.analysis.synonym.SolrSynonymParser;
import org.apache.lucene.analysis.synonym.SynonymFilter;
import org.apache.lucene.analysis.synonym.SynonymGraphFilter;
import org.apache.lucene.analysis.synonym.SynonymMap;
import org.apache.lucene.analysis.synonym.WordnetSynonymParser;
import org.elasticsearch.common.regex.Regex;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.index.IndexService.IndexCreationContext;
import org.elasticsearch.index.IndexSettings;
import org.elasticsearch.index.analysis.AbstractCharFilterFactory;
import org.elasticsearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.elasticsearch.index.analysis.AbstractTokenFilterFactory;
import org.elasticsearch.index.analysis.Analysis;
import org.elasticsearch.index.analysis.AnalysisMode;
import org.elasticsearch.index.analysis.AnalyzerProvider;
import org.elasticsearch.index.analysis.CharFilterFactory;
import org.elasticsearch.index.analysis.CustomAnalyzer;
import org.elasticsearch.index.analysis.NormalizingCharFilterFactory;
import org.elasticsearch.index.analysis.NormalizingTokenFilterFactory;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;

import java.io.Reader;
import java.io.StringReader;
import java.text.ParseException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.IntPredicate;
import java.util.function.Supplier;
import java.util.regex.Pattern;

import static org.elasticsearch.plugins.AnalysisPlugin.requiresAnalysisSettings;

/**
 * The analysis names that stock Elasticsearch gets from its analysis-common module, rebuilt from Lucene classes.
 *
 * Why: analysis-common is not published on Maven Central (8.x or 9.x), and without it the server knows only the
 * standard analyzer/tokenizer and the lowercase/stop/shingle filters. The goal is that the production index
 * mapping works unchanged here, so names, parameters and defaults follow the stock ones (the 9.x docs). Everything
 * is a thin wrapper around the same Lucene classes the stock module uses, so the tokens are the same.
 * Covered: analyzer english; filters stemmer (English variants), porter_stem, kstem, snowball, asciifolding,
 * edge_ngram, ngram, word_delimiter(_graph), synonym(_graph), trim, uppercase, decimal_digit, reverse, length,
 * truncate, keyword_marker; tokenizers whitespace, keyword, letter, classic, uax_url_email, pattern, edge_ngram,
 * ngram; char filters html_strip, pattern_replace, mapping. Not covered (fails loudly rather than analysing
 * differently): other languages, synonyms_set (the synonyms API), word_delimiter type_table, and every name not
 * listed here (e.g. unique, elision, stemmer_override, path_hierarchy: an "unknown type" error at index creation).
 */
public class CommonAnalysisPlugin extends Plugin implements AnalysisPlugin {

    /** Builds a TokenStream wrapper from (index settings, environment, filter settings). */
    interface FilterBuilder {
        Function<TokenStream, TokenStream> build(IndexSettings index, Environment env, Settings s);
    }

    /** A configurable token filter; normalizing ones may also appear in keyword normalizers. */
    private static AnalysisProvider<TokenFilterFactory> filter(boolean normalizing, FilterBuilder b) {
        return (index, env, name, s) -> {
            Function<TokenStream, TokenStream> f = b.build(index, env, s);
            if (normalizing) {
                return new NormalizingTokenFilterFactory() {
                    public String name() { return name; }
                    public TokenStream create(TokenStream ts) { return f.apply(ts); }
                };
            }
            return new AbstractTokenFilterFactory(name) {
                public TokenStream create(TokenStream ts) { return f.apply(ts); }
            };
        };
    }

    private static AnalysisProvider<TokenFilterFactory> filter(FilterBuilder b) {
        return filter(false, b);
    }

    private static AnalysisProvider<TokenizerFactory> tokenizer(
            java.util.function.BiFunction<IndexSettings, Settings, Supplier<Tokenizer>> b) {
        return (index, env, name, s) -> TokenizerFactory.newFactory(name, b.apply(index, s));
    }

    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        Map<String, AnalysisProvider<TokenFilterFactory>> m = new TreeMap<>();
        m.put("stemmer", filter((i, e, s) -> stemmer(s.get("language", s.get("name", "porter")))));
        m.put("porter_stem", filter((i, e, s) -> PorterStemFilter::new));
        m.put("kstem", filter((i, e, s) -> KStemFilter::new));
        m.put("snowball", filter((i, e, s) -> {
            String language = s.get("language", "English");
            return ts -> new SnowballFilter(ts, language); // Lucene loads org.tartarus.snowball.ext.<language>Stemmer
        }));
        m.put("asciifolding", filter(true, (i, e, s) -> {
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return ts -> new ASCIIFoldingFilter(ts, preserve);
        }));
        m.put("edge_ngram", filter((i, e, s) -> {
            int min = s.getAsInt("min_gram", 1), max = s.getAsInt("max_gram", 2);
            boolean preserve = s.getAsBoolean("preserve_original", false);
            if ("back".equals(s.get("side", "front"))) { // deprecated option, still accepted by the stock filter
                return ts -> new ReverseStringFilter(new EdgeNGramTokenFilter(new ReverseStringFilter(ts), min, max, preserve));
            }
            return ts -> new EdgeNGramTokenFilter(ts, min, max, preserve);
        }));
        m.put("ngram", filter((i, e, s) -> {
            int min = s.getAsInt("min_gram", 1), max = s.getAsInt("max_gram", 2);
            checkNgramDiff(i, min, max);
            boolean preserve = s.getAsBoolean("preserve_original", false);
            return ts -> new NGramTokenFilter(ts, min, max, preserve);
        }));
        m.put("word_delimiter_graph", filter((i, e, s) -> {
            int flags = wordDelimiterFlags(s);
            CharArraySet protect = protectedWords(e, s);
            boolean adjustOffsets = s.getAsBoolean("adjust_offsets", true);
            return ts -> new WordDelimiterGraphFilter(ts, adjustOffsets, WordDelimiterIterator.DEFAULT_WORD_DELIM_TABLE, flags, protect);
        }));
        m.put("word_delimiter", filter((i, e, s) -> {
            int flags = wordDelimiterFlags(s);
            CharArraySet protect = protectedWords(e, s);
            return ts -> new WordDelimiterFilter(ts, WordDelimiterIterator.DEFAULT_WORD_DELIM_TABLE, flags, protect);
        }));
        m.put("synonym", requiresAnalysisSettings((i, e, name, s) -> new SynonymFilterFactory(name, s, e, false)));
        m.put("synonym_graph", requiresAnalysisSettings((i, e, name, s) -> new SynonymFilterFactory(name, s, e, true)));
        m.put("trim", filter(true, (i, e, s) -> TrimFilter::new));
        m.put("uppercase", filter(true, (i, e, s) -> UpperCaseFilter::new));
        m.put("decimal_digit", filter(true, (i, e, s) -> DecimalDigitFilter::new));
        m.put("reverse", filter((i, e, s) -> ReverseStringFilter::new));
        m.put("length", filter((i, e, s) -> {
            int min = s.getAsInt("min", 0), max = s.getAsInt("max", Integer.MAX_VALUE);
            return ts -> new LengthFilter(ts, min, max);
        }));
        m.put("truncate", filter((i, e, s) -> {
            int length = s.getAsInt("length", 10);
            return ts -> new TruncateTokenFilter(ts, length);
        }));
        m.put("keyword_marker", requiresAnalysisSettings(filter((i, e, s) -> {
            // keywords / keywords_path; protects words from the stemmers that follow.
            CharArraySet words = Analysis.getWordSet(e, s, "keywords");
            if (words == null) {
                throw new IllegalArgumentException("keyword_marker requires [keywords] or [keywords_path] (keywords_pattern is not supported here)");
            }
            CharArraySet set = new CharArraySet(words, s.getAsBoolean("ignore_case", false));
            return ts -> new SetKeywordMarkerFilter(ts, set);
        })));
        return m;
    }

    /** The stock `stemmer` filter's English variants (same Lucene classes for the same names). */
    private static Function<TokenStream, TokenStream> stemmer(String language) {
        switch (language) {
            case "english", "porter":
                return PorterStemFilter::new;
            case "light_english", "lightEnglish", "kstem":
                return KStemFilter::new;
            case "minimal_english", "minimalEnglish":
                return EnglishMinimalStemFilter::new;
            case "possessive_english", "possessiveEnglish":
                return EnglishPossessiveFilter::new;
            case "porter2":
                return ts -> new SnowballFilter(ts, "English");
            case "lovins":
                return ts -> new SnowballFilter(ts, "Lovins");
            default:
                throw new IllegalArgumentException("stemmer language [" + language + "] is not supported by the local node");
        }
    }

    /** Same guard as stock: a wide ngram range explodes the index unless index.max_ngram_diff allows it. */
    private static void checkNgramDiff(IndexSettings index, int min, int max) {
        int allowed = index.getMaxNgramDiff();
        if (max - min > allowed) {
            throw new IllegalArgumentException("The difference between max_gram and min_gram in NGram Tokenizer must be less than or equal to: ["
                + allowed + "] but was [" + (max - min) + "]. This limit can be set by changing the [" + IndexSettings.MAX_NGRAM_DIFF_SETTING.getKey()
                + "] index level setting.");
        }
    }

    private static int wordDelimiterFlags(Settings s) {
        if (s.get("type_table") != null || s.get("type_table_path") != null) {
            throw new IllegalArgumentException("word_delimiter type_table is not supported by the local node");
        }
        int f = 0;
        f |= s.getAsBoolean("generate_word_parts", true) ? WordDelimiterGraphFilter.GENERATE_WORD_PARTS : 0;
        f |= s.getAsBoolean("generate_number_parts", true) ? WordDelimiterGraphFilter.GENERATE_NUMBER_PARTS : 0;
        f |= s.getAsBoolean("catenate_words", false) ? WordDelimiterGraphFilter.CATENATE_WORDS : 0;
        f |= s.getAsBoolean("catenate_numbers", false) ? WordDelimiterGraphFilter.CATENATE_NUMBERS : 0;
        f |= s.getAsBoolean("catenate_all", false) ? WordDelimiterGraphFilter.CATENATE_ALL : 0;
        f |= s.getAsBoolean("split_on_case_change", true) ? WordDelimiterGraphFilter.SPLIT_ON_CASE_CHANGE : 0;
        f |= s.getAsBoolean("preserve_original", false) ? WordDelimiterGraphFilter.PRESERVE_ORIGINAL : 0;
        f |= s.getAsBoolean("split_on_numerics", true) ? WordDelimiterGraphFilter.SPLIT_ON_NUMERICS : 0;
        f |= s.getAsBoolean("stem_english_possessive", true) ? WordDelimiterGraphFilter.STEM_ENGLISH_POSSESSIVE : 0;
        f |= s.getAsBoolean("ignore_keywords", false) ? WordDelimiterGraphFilter.IGNORE_KEYWORDS : 0;
        return f; // the graph and the classic filter share these flag values
    }

    private static CharArraySet protectedWords(Environment e, Settings s) {
        CharArraySet words = Analysis.getWordSet(e, s, "protected_words");
        return words == null ? null : new CharArraySet(words, true);
    }

    /**
     * synonym / synonym_graph: the rules are analysed with the tokenizer and filters that precede this filter in
     * the analyzer (as in stock ES), which is why the factory is "chain aware" and create() is never called directly.
     */
    static final class SynonymFilterFactory extends AbstractTokenFilterFactory {
        private final Settings settings;
        private final Environment env;
        private final boolean graph;

        SynonymFilterFactory(String name, Settings settings, Environment env, boolean graph) {
            super(name);
            if (settings.get("synonyms_set") != null) {
                throw new IllegalArgumentException("synonyms_set (synonyms API) is not supported by the local node; use synonyms or synonyms_path");
            }
            this.settings = settings;
            this.env = env;
            this.graph = graph;
        }

        @Override
        public TokenStream create(TokenStream ts) {
            throw new IllegalStateException("synonym filter [" + name() + "] must be built from its analyzer chain");
        }

        @Override
        public AnalysisMode getAnalysisMode() {
            return settings.getAsBoolean("updateable", false) ? AnalysisMode.SEARCH_TIME : AnalysisMode.ALL;
        }

        @Override
        public TokenFilterFactory getChainAwareTokenFilterFactory(IndexCreationContext ctx, TokenizerFactory tokenizer,
                List<CharFilterFactory> charFilters, List<TokenFilterFactory> previous, Function<String, TokenFilterFactory> all) {
            Analyzer analyzer = new CustomAnalyzer(tokenizer, charFilters.toArray(new CharFilterFactory[0]),
                previous.stream().map(TokenFilterFactory::getSynonymFilter).toArray(TokenFilterFactory[]::new));
            SynonymMap map = buildMap(analyzer);
            String name = name();
            AnalysisMode mode = getAnalysisMode();
            return new AbstractTokenFilterFactory(name) {
                public TokenStream create(TokenStream ts) {
                    if (map.fst == null) {
                        return ts; // no rules
                    }
                    return graph ? new SynonymGraphFilter(ts, map, false) : new SynonymFilter(ts, map, false);
                }
                public TokenFilterFactory getSynonymFilter() {
                    return IDENTITY_FILTER; // a later synonym filter must not see these expansions
                }
                public AnalysisMode getAnalysisMode() {
                    return mode;
                }
            };
        }

        private SynonymMap buildMap(Analyzer analyzer) {
            List<String> rules = Analysis.getWordList(env, settings, "synonyms");
            if (rules == null) {
                throw new IllegalArgumentException("synonym requires either `synonyms` or `synonyms_path` to be configured");
            }
            boolean expand = settings.getAsBoolean("expand", true);
            boolean lenient = settings.getAsBoolean("lenient", false);
            boolean wordnet = "wordnet".equalsIgnoreCase(settings.get("format", "solr"));
            try {
                SynonymMap.Parser parser = wordnet ? new WordnetSynonymParser(true, expand, analyzer)
                    : new SolrSynonymParser(true, expand, analyzer);
                if (lenient) {
                    // lenient: skip the rules that fail to parse (e.g. a word the stop filter removes) instead of failing.
                    for (String rule : rules) {
                        try {
                            parser.parse(new StringReader(rule));
                        } catch (ParseException | IllegalArgumentException ignored) {
                        }
                    }
                } else {
                    parser.parse(new StringReader(String.join("\n", rules)));
                }
                return parser.build();
            } catch (Exception e) {
                throw new IllegalArgumentException("failed to build synonyms for [" + name() + "]: " + e.getMessage(), e);
            }
        }
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        Map<String, AnalysisProvider<TokenizerFactory>> m = new TreeMap<>();
        m.put("whitespace", tokenizer((i, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> new WhitespaceTokenizer(TokenStream.DEFAULT_TOKEN_ATTRIBUTE_FACTORY, max);
        }));
        m.put("keyword", tokenizer((i, s) -> {
            int buffer = s.getAsInt("buffer_size", 256);
            return () -> new KeywordTokenizer(buffer);
        }));
        m.put("letter", tokenizer((i, s) -> LetterTokenizer::new));
        m.put("classic", tokenizer((i, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> { ClassicTokenizer t = new ClassicTokenizer(); t.setMaxTokenLength(max); return t; };
        }));
        m.put("uax_url_email", tokenizer((i, s) -> {
            int max = s.getAsInt("max_token_length", 255);
            return () -> { UAX29URLEmailTokenizer t = new UAX29URLEmailTokenizer(); t.setMaxTokenLength(max); return t; };
        }));
        m.put("pattern", tokenizer((i, s) -> {
            Pattern p = Regex.compile(s.get("pattern", "\\W+"), s.get("flags"));
            int group = s.getAsInt("group", -1);
            return () -> new PatternTokenizer(p, group);
        }));
        m.put("edge_ngram", tokenizer((i, s) -> {
            int min = s.getAsInt("min_gram", 1), max = s.getAsInt("max_gram", 2);
            IntPredicate keep = tokenChars(s);
            if (keep == null) {
                return () -> new EdgeNGramTokenizer(min, max);
            }
            return () -> new EdgeNGramTokenizer(min, max) {
                @Override
                protected boolean isTokenChar(int c) { return keep.test(c); }
            };
        }));
        m.put("ngram", tokenizer((i, s) -> {
            int min = s.getAsInt("min_gram", 1), max = s.getAsInt("max_gram", 2);
            checkNgramDiff(i, min, max);
            IntPredicate keep = tokenChars(s);
            if (keep == null) {
                return () -> new NGramTokenizer(min, max);
            }
            return () -> new NGramTokenizer(min, max) {
                @Override
                protected boolean isTokenChar(int c) { return keep.test(c); }
            };
        }));
        return m;
    }

    /** token_chars: which character classes belong to a token (empty = all, as in stock ES). */
    private static IntPredicate tokenChars(Settings s) {
        List<String> classes = s.getAsList("token_chars");
        if (classes.isEmpty()) {
            return null;
        }
        String custom = s.get("custom_token_chars", "");
        IntPredicate p = c -> false;
        for (String cls : classes) {
            IntPredicate q = switch (cls) {
                case "letter" -> Character::isLetter;
                case "digit" -> Character::isDigit;
                case "whitespace" -> Character::isWhitespace;
                case "punctuation" -> c -> PUNCTUATION.contains(Character.getType(c));
                case "symbol" -> c -> SYMBOL.contains(Character.getType(c));
                case "custom" -> c -> custom.indexOf(c) >= 0;
                default -> throw new IllegalArgumentException("Unknown token type: '" + cls + "'");
            };
            p = p.or(q);
        }
        return p;
    }

    private static final Set<Integer> PUNCTUATION = Set.of((int) Character.START_PUNCTUATION, (int) Character.END_PUNCTUATION,
        (int) Character.OTHER_PUNCTUATION, (int) Character.CONNECTOR_PUNCTUATION, (int) Character.DASH_PUNCTUATION,
        (int) Character.INITIAL_QUOTE_PUNCTUATION, (int) Character.FINAL_QUOTE_PUNCTUATION);
    private static final Set<Integer> SYMBOL = Set.of((int) Character.CURRENCY_SYMBOL, (int) Character.MATH_SYMBOL,
        (int) Character.OTHER_SYMBOL, (int) Character.MODIFIER_SYMBOL);

    @Override
    public Map<String, AnalysisProvider<CharFilterFactory>> getCharFilters() {
        Map<String, AnalysisProvider<CharFilterFactory>> m = new TreeMap<>();
        m.put("html_strip", (i, e, name, s) -> {
            List<String> escaped = s.getAsList("escaped_tags");
            Set<String> tags = escaped.isEmpty() ? null : Set.copyOf(escaped);
            return new AbstractCharFilterFactory(name) {
                public Reader create(Reader r) { return new HTMLStripCharFilter(r, tags); }
            };
        });
        m.put("pattern_replace", requiresAnalysisSettings((i, e, name, s) -> {
            if (s.get("pattern") == null) {
                throw new IllegalArgumentException("pattern is missing for [" + name + "] char filter of type 'pattern_replace'");
            }
            Pattern p = Regex.compile(s.get("pattern"), s.get("flags"));
            String replacement = s.get("replacement", "");
            return new NormalizingCharFilterFactory() {
                public String name() { return name; }
                public Reader create(Reader r) { return new PatternReplaceCharFilter(p, replacement, r); }
            };
        }));
        m.put("mapping", requiresAnalysisSettings((i, e, name, s) -> {
            List<String> rules = Analysis.getWordList(e, s, "mappings");
            if (rules == null) {
                throw new IllegalArgumentException("mapping requires either `mappings` or `mappings_path` to be configured");
            }
            NormalizeCharMap.Builder b = new NormalizeCharMap.Builder();
            for (String rule : rules) { // "from => to" (no escape sequences here, unlike stock)
                int arrow = rule.indexOf("=>");
                if (arrow < 0) {
                    throw new IllegalArgumentException("Invalid mapping rule : [" + rule + "]");
                }
                b.add(rule.substring(0, arrow).trim(), rule.substring(arrow + 2).trim());
            }
            NormalizeCharMap map = b.build();
            return new NormalizingCharFilterFactory() {
                public String name() { return name; }
                public Reader create(Reader r) { return new MappingCharFilter(map, r); }
            };
        }));
        return m;
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        // english = Lucene EnglishAnalyzer, like stock: standard tokenizer, possessive, lowercase, stop, keyword marker, porter.
        return Map.of("english", (index, env, name, s) -> {
            EnglishAnalyzer analyzer = new EnglishAnalyzer(
                Analysis.parseStopWords(env, s, EnglishAnalyzer.getDefaultStopSet()),
                Analysis.parseStemExclusion(s, CharArraySet.EMPTY_SET));
            return new AbstractIndexAnalyzerProvider<EnglishAnalyzer>(name) {
                public EnglishAnalyzer get() { return analyzer; }
            };
        });
    }
}
