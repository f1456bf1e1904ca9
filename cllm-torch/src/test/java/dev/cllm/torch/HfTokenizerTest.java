package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.api.StreamingDetokenizer;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.HttpURLConnection;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A checkpoint with a Hugging Face {@code tokenizer.json} (the hand-written 20-token WordLevel tokenizer in
 * {@code src/test/resources/tokenizers/wordlevel}), loaded offline through DJL's bundled native library.
 */
class HfTokenizerTest {
    private static final String RESOURCES = "/tokenizers/wordlevel/";
    private static final int TOKENIZER_VOCAB = 20;
    private static final int UNK = 0;
    private static final int BOS = 1;
    private static final int EOS = 2;
    private static final int THE = 3;
    private static final int CAT = 5;
    private static final int SAT = 7;
    private static final int ON = 8;
    private static final int MAT = 9;

    @TempDir
    static Path dir;
    private static TorchConsistencyModel model;
    private static Tokenizer tokenizer;

    /** Every URI anything in this JVM tried to open a network connection to while the tokenizer loaded. */
    private static final List<URI> connections = Collections.synchronizedList(new ArrayList<>());
    private static String loadLog;

    @BeforeAll
    static void loadOffline() {
        // the config declares no special tokens: BOS and EOS must come from tokenizer_config.json
        Path checkpoint = checkpoint(dir.resolve("with-tokenizer-config"),
                TinyCheckpoints.base().bosTokenId(-1).eosTokenIds(Set.of()), true);

        ProxySelector previousSelector = ProxySelector.getDefault();
        String previousOffline = System.getProperty("ai.djl.offline");
        PrintStream previousErr = System.err;
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ProxySelector.setDefault(new RecordingProxySelector(previousSelector, connections));
        System.setProperty("ai.djl.offline", "true"); // DJL throws instead of downloading
        System.setErr(new PrintStream(new TeeStream(previousErr, log), true, StandardCharsets.UTF_8));
        try {
            model = TorchConsistencyModel.load(checkpoint, TorchOptions.defaults().withDevice("cpu"));
            tokenizer = model.tokenizer().orElseThrow();
            tokenizer.encode("warm up the native library");
        } finally {
            System.setErr(previousErr);
            ProxySelector.setDefault(previousSelector);
            if (previousOffline == null) {
                System.clearProperty("ai.djl.offline");
            } else {
                System.setProperty("ai.djl.offline", previousOffline);
            }
        }
        loadLog = log.toString(StandardCharsets.UTF_8);
        System.out.printf("tokenizer load: %d connection attempts, %d log lines captured (%d from DJL)%n",
                connections.size(), loadLog.lines().count(), loadLog.lines().filter(l -> l.contains("ai.djl")).count());
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /** A tiny random checkpoint in {@code target} with the test tokenizer copied next to it. */
    private static Path checkpoint(Path target, dev.cllm.torch.LlamaConfig.Builder config, boolean tokenizerConfig) {
        new TinyCheckpoints.Variant("tokenizer-host", config.build(), ComputeDtype.F32, Long.MAX_VALUE)
                .write(target, 3);
        copyResource("tokenizer.json", target);
        if (tokenizerConfig) {
            copyResource("tokenizer_config.json", target);
        }
        return target;
    }

    private static void copyResource(String name, Path target) {
        try (InputStream in = HfTokenizerTest.class.getResourceAsStream(RESOURCES + name)) {
            assertThat(in).as("test resource %s%s", RESOURCES, name).isNotNull();
            Files.copy(in, target.resolve(name), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // ------------------------------------------------------------------------------------------ offline

    @Test
    void loadingTouchedNoNetwork() {
        assertThat(connections).as("network connections attempted while loading the tokenizer").isEmpty();
        assertThat(loadLog).as("DJL's log while loading").doesNotContainIgnoringCase("download");
    }

    /** The probe above would see a download: a URL connection consults the default proxy selector first. */
    @Test
    void theNetworkProbeSeesUrlConnections() throws IOException {
        List<URI> seen = Collections.synchronizedList(new ArrayList<>());
        ProxySelector previous = ProxySelector.getDefault();
        ProxySelector.setDefault(new RecordingProxySelector(previous, seen));
        try {
            // port 9 (discard) on the loopback interface: refused at once, nothing leaves the machine
            HttpURLConnection connection = (HttpURLConnection) new URL("http://127.0.0.1:9/probe").openConnection();
            connection.setConnectTimeout(1000);
            assertThatThrownBy(connection::connect).isInstanceOf(IOException.class);
        } finally {
            ProxySelector.setDefault(previous);
        }
        assertThat(seen).extracting(URI::getPath).contains("/probe");
    }

    // ------------------------------------------------------------------------------------------ tokenizer

    @Test
    void theCheckpointShipsATokenizer() {
        assertThat(model.tokenizer()).containsSame(tokenizer);
        assertThat(tokenizer.vocabSize()).isEqualTo(TOKENIZER_VOCAB);
        assertThat(model.config().vocabSize()).isGreaterThanOrEqualTo(TOKENIZER_VOCAB);
    }

    @Test
    void encodeAddsBosAndEncodeWithoutSpecialTokensDoesNot() {
        assertThat(tokenizer.encode("the cat sat on the mat")).containsExactly(BOS, THE, CAT, SAT, ON, THE, MAT);
        assertThat(tokenizer.encodeWithoutSpecialTokens("the cat sat on the mat"))
                .containsExactly(THE, CAT, SAT, ON, THE, MAT);
        assertThat(tokenizer.encode("")).containsExactly(BOS);
        assertThat(tokenizer.encodeWithoutSpecialTokens("")).isEmpty();
    }

    @Test
    void normalizerAndPreTokenizerApply() {
        assertThat(tokenizer.encodeWithoutSpecialTokens("  The   CAT\tsat.\n"))
                .containsExactly(THE, CAT, SAT, 18);
        assertThat(tokenizer.encodeWithoutSpecialTokens("the zebra")).containsExactly(THE, UNK);
    }

    @Test
    void decodeSkipsSpecialTokensAndRoundTripsWords() {
        String text = "hello the big dog and a small cat ran to the park";
        int[] ids = tokenizer.encode(text);
        assertThat(ids[0]).isEqualTo(BOS);
        assertThat(tokenizer.decode(ids)).isEqualTo(text);
        assertThat(tokenizer.decode(tokenizer.encodeWithoutSpecialTokens(text))).isEqualTo(text);
        assertThat(tokenizer.decode(new int[]{BOS, THE, CAT, EOS})).isEqualTo("the cat");
        assertThat(tokenizer.decode(new int[]{THE, UNK, MAT})).as("<unk> is special too").isEqualTo("the mat");
        assertThat(tokenizer.decode(new int[0])).isEmpty();
    }

    @Test
    void tokenIdLookup() {
        assertThat(tokenizer.tokenId("cat")).hasValue(CAT);
        assertThat(tokenizer.tokenId("<s>")).hasValue(BOS);
        assertThat(tokenizer.tokenId("</s>")).hasValue(EOS);
        assertThat(tokenizer.tokenId("hello")).hasValue(19);
        assertThat(tokenizer.tokenId("zebra")).isEmpty();
        assertThat(tokenizer.tokenId("Cat")).as("exactly as in the vocabulary, not normalized").isEmpty();
    }

    @Test
    void specialIdsComeFromTokenizerConfig() {
        assertThat(tokenizer.bosTokenId()).hasValue(BOS);
        assertThat(tokenizer.eosTokenIds()).containsExactly(EOS);
        // config.json declares none: the model's special ids come from the tokenizer, so decoders stop at its EOS
        assertThat(model.config().bosTokenId()).isEqualTo(BOS);
        assertThat(model.config().eosTokenIds()).containsExactly(EOS);
    }

    @Test
    void withoutTokenizerConfigSpecialIdsComeFromConfigJson() {
        Path checkpoint = checkpoint(dir.resolve("without-tokenizer-config"),
                TinyCheckpoints.base().bosTokenId(2).eosTokenIds(Set.of(1, 19)), false);
        try (TorchConsistencyModel other = TorchConsistencyModel.load(checkpoint,
                TorchOptions.defaults().withDevice("cpu"))) {
            Tokenizer t = other.tokenizer().orElseThrow();
            assertThat(t.bosTokenId()).hasValue(2);
            assertThat(t.eosTokenIds()).containsExactlyInAnyOrder(1, 19);
            // the template in tokenizer.json still decides what encode() adds
            assertThat(t.encode("the")).containsExactly(BOS, THE);
        }
    }

    @Test
    void aTokenizerLargerThanTheModelVocabularyIsRefused() {
        Path checkpoint = checkpoint(dir.resolve("small-vocab"), TinyCheckpoints.base().vocabSize(16), true);
        assertThatThrownBy(() -> TorchConsistencyModel.load(checkpoint, TorchOptions.defaults().withDevice("cpu")))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining(checkpoint.resolve("tokenizer.json").toString())
                .hasMessageContaining(String.valueOf(TOKENIZER_VOCAB))
                .hasMessageContaining("16");
    }

    @Test
    void theTokenizerFeedsTheModel() {
        int[] prompt = tokenizer.encode("the cat sat on the");
        try (var session = model.newSession(16)) {
            int next = session.prefill(prompt);
            assertThat(next).isBetween(0, model.config().vocabSize() - 1);
        }
    }

    @Test
    void closingTheModelClosesItsTokenizerAndEveryCallThenThrows() {
        Path checkpoint = checkpoint(dir.resolve("closed"), TinyCheckpoints.base(), true);
        TorchConsistencyModel own = TorchConsistencyModel.load(checkpoint, TorchOptions.defaults().withDevice("cpu"));
        Tokenizer t = own.tokenizer().orElseThrow();
        assertThat(t.encode("the cat")).containsExactly(BOS, THE, CAT);
        own.close();
        List<Runnable> calls = List.of(() -> t.encode("the"), () -> t.encodeWithoutSpecialTokens("the"),
                () -> t.decode(new int[]{THE}), t::vocabSize, () -> t.tokenId("the"), t::bosTokenId, t::eosTokenIds,
                t::chatTemplate);
        for (Runnable call : calls) {
            assertThatThrownBy(call::run).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
        ((HfTokenizer) t).close(); // idempotent
    }

    // ------------------------------------------------------------------------------------------ streaming

    @Test
    void streamingDeltasConcatenateToTheFullDecode() {
        int[] ids = tokenizer.encode("hello the happy dog was on a big mat and the cat ran to the park");
        for (int chunk : new int[]{1, 2, 3, 5, ids.length}) {
            List<String> deltas = new ArrayList<>();
            StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, deltas::add);
            for (int start = 0; start < ids.length; start += chunk) {
                int end = Math.min(ids.length, start + chunk);
                assertThat(stream.onTokens(TokenIds.copyOf(ids, start, end))).isTrue();
                assertThat(String.join("", deltas)).as("chunk %d, after %d ids", chunk, end)
                        .isEqualTo(tokenizer.decode(Arrays.copyOf(ids, end)));
            }
            stream.flush();
            assertThat(String.join("", deltas)).as("chunk %d", chunk).isEqualTo(tokenizer.decode(ids));
            assertThat(deltas).as("no empty deltas").doesNotContain("");
        }
    }

    @Test
    void streamingOnlySpecialTokensEmitsNothing() {
        List<String> deltas = new ArrayList<>();
        StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, deltas::add);
        stream.onTokens(TokenIds.of(BOS));
        stream.onTokens(TokenIds.of(EOS, UNK));
        stream.flush();
        assertThat(deltas).isEmpty();
    }

    @Test
    void streamingManyTokensGrowsItsBuffer() {
        int[] one = tokenizer.encodeWithoutSpecialTokens("the cat sat on the mat .");
        StringBuilder out = new StringBuilder();
        StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, out::append);
        int[] all = new int[0];
        for (int i = 0; i < 30; i++) {
            stream.onTokens(TokenIds.of(one));
            int[] grown = Arrays.copyOf(all, all.length + one.length);
            System.arraycopy(one, 0, grown, all.length, one.length);
            all = grown;
        }
        stream.flush();
        assertThat(all.length).isGreaterThan(64 * 3);
        assertThat(out.toString()).isEqualTo(tokenizer.decode(all));
    }

    // ------------------------------------------------------------------------------------------ helpers

    /** Records every URI a URL connection asks a proxy for, then answers as the previous selector would. */
    private static final class RecordingProxySelector extends ProxySelector {
        private final ProxySelector delegate;
        private final List<URI> record;

        RecordingProxySelector(ProxySelector delegate, List<URI> record) {
            this.delegate = delegate;
            this.record = record;
        }

        @Override
        public List<Proxy> select(URI uri) {
            record.add(uri);
            return delegate == null ? List.of(Proxy.NO_PROXY) : delegate.select(uri);
        }

        @Override
        public void connectFailed(URI uri, SocketAddress address, IOException e) {
            if (delegate != null) {
                delegate.connectFailed(uri, address, e);
            }
        }
    }

    /** Writes to two streams. */
    private static final class TeeStream extends OutputStream {
        private final OutputStream a;
        private final OutputStream b;

        TeeStream(OutputStream a, OutputStream b) {
            this.a = a;
            this.b = b;
        }

        @Override
        public void write(int x) throws IOException {
            a.write(x);
            b.write(x);
        }

        @Override
        public void write(byte[] bytes, int off, int len) throws IOException {
            a.write(bytes, off, len);
            b.write(bytes, off, len);
        }

        @Override
        public void flush() throws IOException {
            a.flush();
            b.flush();
        }
    }
}
