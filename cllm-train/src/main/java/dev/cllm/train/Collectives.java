package dev.cllm.train;

import dev.cllm.torch.TorchRuntime;
import dev.cllm.torch.Tensors;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.javacpp.SizeTPointer;
import org.bytedeco.javacpp.chrono.Milliseconds;
import org.bytedeco.pytorch.AllreduceOptions;
import org.bytedeco.pytorch.Backend;
import org.bytedeco.pytorch.BroadcastOptions;
import org.bytedeco.pytorch.ByteVector;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.GlooDeviceVector;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.ProcessGroupGloo;
import org.bytedeco.pytorch.Store;
import org.bytedeco.pytorch.StringVector;
import org.bytedeco.pytorch.TCPStore;
import org.bytedeco.pytorch.TCPStoreOptions;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.Work;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * The collectives of one data-parallel job, on PyTorch's own c10d engine: a {@code TCPStore} served by rank 0 for
 * the rendezvous and for small metadata, and a process group for tensors ({@code ProcessGroupGloo} on CPU,
 * {@code ProcessGroupNCCL} on CUDA).
 *
 * <p>Every collective is called by every rank in the same order. A rank that has died makes the others' next
 * collective fail at once (the peer's connection closes); a rank that hangs makes it fail when the
 * {@linkplain Rendezvous#timeout() timeout} passes. Either way the failure is a {@link CollectiveException} that
 * names this rank, the operation, and the likely cause.
 *
 * <p>{@link #single()} is the one-process group: its collectives do nothing, so code written against this class runs
 * unchanged without a job. Not thread-safe: one thread drives a group.
 */
public final class Collectives implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Collectives.class);
    /** Tensors are reduced in buckets of about this many bytes (DDP's default bucket size). */
    public static final long BUCKET_BYTES = 25L << 20;
    private static final String KEY_PREFIX = "cllm/";
    /** Outside {@link #KEY_PREFIX}, so that no key a caller names can collide with it. */
    private static final String HEARTBEAT = "cllm-internal/heartbeat/";

    private final Rendezvous rendezvous;
    private final TCPStore store;
    private final Backend group;
    private final String backendName;
    private final Device device;   // where the group's tensors must live (CUDA for NCCL), null without a group
    private final Thread heartbeat;
    private boolean closed;

    private Collectives(Rendezvous rendezvous, TCPStore store, Backend group, String backendName, String device) {
        this.rendezvous = rendezvous;
        this.store = store;
        this.group = group;
        this.backendName = backendName;
        if (group != null) {
            this.device = new Device(device);
            this.device.retainReference();
        } else {
            this.device = null;
        }
        this.heartbeat = store == null ? null : startHeartbeat(store, rendezvous);
    }

    /**
     * Counts up this rank's heartbeat key in the store, on its own store connection, every tenth of the timeout (1 to
     * 30 s), so that {@link #awaitAll} can tell a slow rank from a dead one. A failed beat is retried at the next
     * interval (the store may be busy or briefly unreachable); the thread ends when the group closes.
     */
    private static Thread startHeartbeat(TCPStore store, Rendezvous r) {
        long interval = Math.max(1000, Math.min(30_000, r.timeout().toMillis() / 10));
        Store own;
        try (PointerScope scope = new PointerScope()) {
            own = store.clone();
            own.retainReference();
        }
        Thread t = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    try (PointerScope scope = new PointerScope()) {
                        own.add(HEARTBEAT + r.rank(), 1);
                    } catch (RuntimeException e) {
                        LOG.debug("{}: a heartbeat failed (retrying): {}", r, e.getMessage());
                    }
                    Thread.sleep(interval);
                }
            } catch (InterruptedException e) {
                // closing
            } finally {
                own.releaseReference();
            }
        }, "cllm-heartbeat-" + r.rank());
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The group of one process: rank 0 of 1; every collective is a no-op. */
    public static Collectives single() {
        return new Collectives(null, null, null, "none", null);
    }

    /**
     * Meets the other ranks through the store alone, with no process group: for jobs that exchange only metadata
     * ({@link #exchange}, {@link #awaitAll}), such as trajectory collection. Tensor collectives on it fail.
     *
     * @throws CollectiveException naming the address when the ranks do not meet
     */
    public static Collectives storeOnly(Rendezvous r) {
        Objects.requireNonNull(r, "rendezvous");
        TorchRuntime.ensureLoaded();
        if (r.worldSize() == 1) {
            return new Collectives(r, null, null, "none", null);
        }
        return new Collectives(r, openStore(r), null, "store", null);
    }

    /**
     * Meets the other ranks and opens the process group: Gloo for {@code cpu}, NCCL for {@code cuda[:N]} (which needs
     * the CUDA build of the natives). Blocks until every rank has arrived or the timeout passes.
     *
     * @param device the device the tensors live on ({@code cpu}, {@code cuda}, {@code cuda:N})
     * @throws CollectiveException naming the address when the ranks do not meet (port taken, master unreachable,
     *                             a rank missing at the timeout)
     */
    public static Collectives connect(Rendezvous r, String device) {
        Objects.requireNonNull(r, "rendezvous");
        Objects.requireNonNull(device, "device");
        TorchRuntime.ensureLoaded();
        if (r.worldSize() == 1) {
            return new Collectives(r, null, null, "none", null);
        }
        if (device.equals("auto")) {
            device = TorchRuntime.cudaAvailable() ? "cuda" : "cpu";
        }
        boolean cuda = device.startsWith("cuda");
        long started = System.nanoTime();
        TCPStore store = openStore(r);
        Backend group;
        String name;
        try (PointerScope scope = new PointerScope()) {
            if (cuda) {
                group = NcclGroup.open(store, r);
                name = "nccl";
            } else {
                ProcessGroupGloo.Options options = ProcessGroupGloo.Options.create(
                        new Milliseconds(r.timeout().toMillis()));
                options.devices(new GlooDeviceVector(glooDevice(r)));
                group = new ProcessGroupGloo(store, r.rank(), r.worldSize(), options);
                name = "gloo";
            }
            group.retainReference();
        } catch (RuntimeException | UnsatisfiedLinkError e) {
            store.releaseReference();
            throw new CollectiveException(r + ": opening the " + (cuda ? "NCCL" : "Gloo") + " process group failed: "
                    + e.getMessage(), e);
        }
        LOG.info("{}: {} process group ready in {} ms", r, name, (System.nanoTime() - started) / 1_000_000);
        return new Collectives(r, store, group, name, device);
    }

    private static TCPStore openStore(Rendezvous r) {
        TCPStore store;
        try (PointerScope scope = new PointerScope()) {
            TCPStoreOptions o = new TCPStoreOptions();
            o.port((short) r.masterPort());   // a u16 in C++: ports above 32767 wrap to the same bits
            o.isServer(r.isLeader());
            o.numWorkers(new SizeTPointer(1).put(r.worldSize()));
            o.waitWorkers(true);
            o.timeout(new Milliseconds(r.timeout().toMillis()));
            store = new TCPStore(r.masterAddress(), o);
            store.retainReference();
        } catch (RuntimeException e) {
            throw new CollectiveException(r + ": the rendezvous at " + r.masterAddress() + ":" + r.masterPort()
                    + " failed" + (r.isLeader() ? " (is the port in use, or did a rank not start within "
                    + r.timeout().toSeconds() + " s?)" : " (is rank 0 running and reachable at that address?)")
                    + ": " + e.getMessage(), e);
        }
        return store;
    }

    /** Gloo's network device: {@code GLOO_SOCKET_IFNAME} if set, loopback for a loopback master, else the host's. */
    private static org.bytedeco.pytorch.gloo.Device glooDevice(Rendezvous r) {
        String ifname = System.getenv("GLOO_SOCKET_IFNAME");
        if (ifname != null && !ifname.isBlank()) {
            return ProcessGroupGloo.createDeviceForInterface(ifname.trim());
        }
        try {
            if (InetAddress.getByName(r.masterAddress()).isLoopbackAddress()) {
                return ProcessGroupGloo.createDeviceForHostname(r.masterAddress());
            }
        } catch (UnknownHostException e) {
            throw new CollectiveException(r + ": unknown master host '" + r.masterAddress() + "'", e);
        }
        return ProcessGroupGloo.createDefaultDevice();
    }

    public int rank() {
        return rendezvous == null ? 0 : rendezvous.rank();
    }

    public int worldSize() {
        return rendezvous == null ? 1 : rendezvous.worldSize();
    }

    /** Whether this is rank 0. */
    public boolean isLeader() {
        return rank() == 0;
    }

    /** {@code gloo}, {@code nccl}, {@code store} (no process group), or {@code none} for one process. */
    public String backend() {
        return backendName;
    }

    /** Whether tensor collectives do anything: false for one process. */
    private boolean distributed() {
        if (store != null && group == null) {
            throw new IllegalStateException(rendezvous + ": this group was opened without a process group "
                    + "(storeOnly); tensor collectives need connect");
        }
        return group != null;
    }

    /**
     * Sums each tensor over the ranks, in place, reducing them in flat buckets of about {@link #BUCKET_BYTES}. All
     * tensors share one dtype and device and are contiguous-compatible (any layout; values are copied).
     *
     * @param what names the operation in errors (e.g. "gradients at step 12")
     */
    public void allReduceSum(List<Tensor> tensors, String what) {
        if (!distributed() || tensors.isEmpty()) {
            return;
        }
        bucketed(tensors, "all-reduce of " + what, true, flat -> {
            AllreduceOptions options = new AllreduceOptions();
            options.timeout(new Milliseconds(rendezvous.timeout().toMillis()));
            return group.allreduce(flat, options);
        });
    }

    /** Sums {@code values} over the ranks (as fp64) and returns the sums; every rank gets the same array. */
    public double[] allReduceSum(double[] values, String what) {
        if (!distributed()) {
            return values.clone();
        }
        checkOpen();
        try (PointerScope scope = new PointerScope()) {
            Tensor host = zeros(new long[]{values.length}, new org.bytedeco.pytorch.TensorOptions(ScalarType.Double));
            new DoublePointer(host.data_ptr()).put(values, 0, values.length);
            // NCCL reduces CUDA tensors only: the values travel on the group's device and come back
            Tensor t = device.is_cuda() ? host.to(device, ScalarType.Double) : host;
            AllreduceOptions options = new AllreduceOptions();
            options.timeout(new Milliseconds(rendezvous.timeout().toMillis()));
            run("all-reduce of " + what, () -> group.allreduce(new TensorVector(t), options));
            Tensor back = device.is_cuda() ? t.to(Tensors.CPU, ScalarType.Double).contiguous() : t;
            double[] out = new double[values.length];
            new DoublePointer(back.data_ptr()).get(out, 0, out.length);
            return out;
        }
    }

    /** Copies rank {@code root}'s values of every tensor into the others' tensors (bucketed, in place). */
    public void broadcast(List<Tensor> tensors, int root, String what) {
        if (!distributed() || tensors.isEmpty()) {
            return;
        }
        bucketed(tensors, "broadcast of " + what, rank() != root, flat -> {
            BroadcastOptions options = new BroadcastOptions();
            options.rootRank(root);
            options.timeout(new Milliseconds(rendezvous.timeout().toMillis()));
            return group.broadcast(flat, options);
        });
    }

    /**
     * Runs {@code op} on each bucket of {@code tensors} flattened into one tensor, and copies the result back into the
     * tensors when {@code copyBack}. One scope per bucket: only one flat copy (about {@link #BUCKET_BYTES}) is alive
     * at a time.
     */
    private void bucketed(List<Tensor> tensors, String what, boolean copyBack,
                          java.util.function.Function<TensorVector, Work> op) {
        checkOpen();
        for (List<Tensor> bucket : buckets(tensors)) {
            try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
                Tensor flat = flatten(bucket);
                run(what, () -> op.apply(new TensorVector(flat)));
                if (copyBack) {
                    unflatten(flat, bucket);
                }
            }
        }
    }

    /** Waits until every rank has called {@code barrier} with the same {@code what} (or the timeout passes). */
    public void barrier(String what) {
        if (!distributed()) {
            return;
        }
        double[] ignored = allReduceSum(new double[]{1}, "barrier (" + what + ")");
        if (ignored[0] != worldSize()) {
            throw new CollectiveException(rendezvous + ": barrier (" + what + ") counted " + ignored[0] + " ranks");
        }
    }

    /**
     * Publishes this rank's {@code value} under {@code key} and returns every rank's value, indexed by rank; waits for
     * all of them up to the timeout. For small metadata (checks that all ranks agree, finished shards, errors). Each
     * key is used once per job. Rank 0 returns only once every rank has read the values, so it may leave the job
     * right after.
     */
    public List<String> exchange(String key, String value) {
        if (store == null) {
            return List.of(value);
        }
        checkOpen();
        String[] keys = keys(key);
        try (PointerScope scope = new PointerScope()) {
            store.set(keys[rank()], new ByteVector(value.getBytes(StandardCharsets.UTF_8)));
            store._wait(new StringVector(keys), new Milliseconds(rendezvous.timeout().toMillis()));
            return readAll(key, keys);
        } catch (CollectiveException e) {
            throw e;
        } catch (RuntimeException e) {
            throw failure("exchanging '" + key + "'", e);
        }
    }

    private String[] keys(String key) {
        String[] keys = new String[worldSize()];
        for (int r = 0; r < keys.length; r++) {
            keys[r] = KEY_PREFIX + key + "/" + r;
        }
        return keys;
    }

    /** Every rank's value; then the read acknowledgement that keeps rank 0 (the store's server) until all have read. */
    private List<String> readAll(String key, String[] keys) {
        List<String> values = new ArrayList<>();
        for (String k : keys) {
            values.add(new String(store.get(k).get(), StandardCharsets.UTF_8));
        }
        String[] read = new String[keys.length];
        for (int r = 0; r < read.length; r++) {
            read[r] = KEY_PREFIX + key + "/read/" + r;
        }
        store.set(read[rank()], new ByteVector((byte) 1));
        if (isLeader()) {
            store._wait(new StringVector(read), new Milliseconds(rendezvous.timeout().toMillis()));
        }
        return values;
    }

    /**
     * Publishes this rank's {@code value} under {@code key}, then waits, for as long as it takes, until every rank has
     * published its own: for the end of work whose length differs between ranks (a shard of a collection). A rank
     * that has not published and whose heartbeat has stopped for the timeout is taken for dead or hung.
     *
     * <p>Rank 0 returns only once every rank has read the values, so it may leave the job (and close the store) right
     * after.
     *
     * @return every rank's value, indexed by rank
     * @throws CollectiveException naming the silent rank
     */
    public List<String> awaitAll(String key, String value) {
        if (store == null) {
            return List.of(value);
        }
        checkOpen();
        int n = worldSize();
        String[] keys = keys(key);
        long[] beat = new long[n];
        long[] heard = new long[n];
        java.util.Arrays.fill(beat, -1);
        try {
            try (PointerScope scope = new PointerScope()) {
                store.set(keys[rank()], new ByteVector(value.getBytes(StandardCharsets.UTF_8)));
            }
            while (true) {
                boolean all = true;
                long now = System.nanoTime();
                for (int r = 0; r < n; r++) {
                    try (PointerScope scope = new PointerScope()) {
                        if (store.check(new StringVector(keys[r]))) {
                            continue;
                        }
                        all = false;
                        long b = store.add(HEARTBEAT + r, 0);
                        if (b != beat[r]) {
                            beat[r] = b;
                            heard[r] = now;
                        } else if (now - heard[r] > rendezvous.timeout().toNanos()) {
                            throw new CollectiveException(rendezvous + ": rank " + r + " has not finished ('" + key
                                    + "') and has sent no heartbeat for " + rendezvous.timeout().toSeconds()
                                    + " s: it died or hung");
                        }
                    }
                }
                if (all) {
                    break;
                }
                Thread.sleep(500);
            }
            try (PointerScope scope = new PointerScope()) {
                return readAll(key, keys);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CollectiveException(rendezvous + ": interrupted while waiting for '" + key + "'", e);
        } catch (CollectiveException e) {
            throw e;
        } catch (RuntimeException e) {
            throw failure("waiting for '" + key + "'", e);
        }
    }

    private void run(String what, java.util.function.Supplier<Work> start) {
        Work work;
        try {
            work = start.get();
            work._wait();
        } catch (RuntimeException e) {
            throw failure(what, e);
        }
    }

    private CollectiveException failure(String what, RuntimeException e) {
        return new CollectiveException(rendezvous + ": " + what + " failed: " + firstLine(e.getMessage()) + ". Most "
                + "likely another rank has stopped (it died, was killed, or did not get here within "
                + rendezvous.timeout().toSeconds() + " s) or the network failed", e);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static List<List<Tensor>> buckets(List<Tensor> tensors) {
        List<List<Tensor>> out = new ArrayList<>();
        List<Tensor> current = new ArrayList<>();
        long bytes = 0;
        ScalarType dtype = tensors.get(0).scalar_type().intern();
        for (Tensor t : tensors) {
            if (t.scalar_type().intern() != dtype) {
                throw new IllegalArgumentException("tensors of mixed dtypes in one collective: " + dtype + " and "
                        + t.scalar_type());
            }
            if (!current.isEmpty() && bytes + t.nbytes() > BUCKET_BYTES) {
                out.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(t);
            bytes += t.nbytes();
        }
        out.add(current);
        return out;
    }

    private static Tensor flatten(List<Tensor> bucket) {
        long numel = 0;
        for (Tensor t : bucket) {
            numel += t.numel();
        }
        Tensor first = bucket.get(0);
        Tensor flat = zeros(new long[]{numel}, first.options());
        long offset = 0;
        for (Tensor t : bucket) {
            flat.narrow(0, offset, t.numel()).copy_(t.reshape(-1));
            offset += t.numel();
        }
        return flat;
    }

    private static void unflatten(Tensor flat, List<Tensor> bucket) {
        long offset = 0;
        for (Tensor t : bucket) {
            t.copy_(flat.narrow(0, offset, t.numel()).view(t.shape()));
            offset += t.numel();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("the process group is closed");
        }
    }

    /** Leaves the group; the store closes when rank 0 leaves. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (heartbeat != null) {
            heartbeat.interrupt();
            try {
                heartbeat.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (group != null) {
            group.releaseReference();
            device.releaseReference();
        }
        if (store != null) {
            store.releaseReference();
        }
    }

    /** NCCL lives in the CUDA build's natives; this class is touched only when a CUDA device asks for it. */
    private static final class NcclGroup {
        static Backend open(TCPStore store, Rendezvous r) {
            org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options options =
                    org.bytedeco.pytorch.nccl.ProcessGroupNCCL.Options.create();
            return new org.bytedeco.pytorch.nccl.ProcessGroupNCCL(store, r.rank(), r.worldSize(), options);
        }
    }
}
