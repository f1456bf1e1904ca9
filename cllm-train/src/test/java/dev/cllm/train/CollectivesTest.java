package dev.cllm.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.bytedeco.pytorch.global.torch.arange;
import static org.bytedeco.pytorch.global.torch.ones;
import org.bytedeco.pytorch.Scalar;

/** Two ranks of a Gloo group in one JVM (one thread each), on loopback. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class CollectivesTest {

    private static <T> List<T> onTwoRanks(Duration timeout, Function<Collectives, T> body) throws Exception {
        return onTwoRanks(timeout, false, body);
    }

    private static <T> List<T> onTwoRanks(Duration timeout, boolean storeOnly, Function<Collectives, T> body)
            throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<CompletableFuture<T>> futures = new ArrayList<>();
            for (int rank = 0; rank < 2; rank++) {
                Rendezvous r = new Rendezvous(2, rank, "127.0.0.1", port, timeout);
                futures.add(CompletableFuture.supplyAsync(() -> {
                    try (Collectives group = storeOnly ? Collectives.storeOnly(r) : Collectives.connect(r, "cpu");
                         PointerScope scope = new PointerScope()) {
                        return body.apply(group);
                    }
                }, pool));
            }
            List<T> out = new ArrayList<>();
            for (CompletableFuture<T> f : futures) {
                out.add(f.get(90, TimeUnit.SECONDS));
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void allReduceBroadcastAndExchangeAgreeOnEveryRank() throws Exception {
        List<String> results = onTwoRanks(Duration.ofSeconds(30), g -> {
            int r = g.rank();
            // two tensors of different shapes, reduced through one flat bucket
            Tensor a = ones(2, 3).mul(new Scalar(r + 1.0));
            Tensor b = arange(new Scalar(4)).to(org.bytedeco.pytorch.global.torch.ScalarType.Float)
                    .mul(new Scalar(10.0 * (r + 1)));
            g.allReduceSum(List.of(a, b), "test tensors");
            Tensor c = ones(5).mul(new Scalar(100.0 + r));
            g.broadcast(List.of(c), 0, "test broadcast");
            double[] sums = g.allReduceSum(new double[]{r, 0.5}, "test scalars");
            List<String> names = g.exchange("name", "rank-" + r);
            g.barrier("end");
            return a.sum().item_double() + " " + b.sum().item_double() + " " + c.sum().item_double() + " "
                    + sums[0] + " " + sums[1] + " " + names;
        });
        // a: 6 * (1 + 2); b: (0+1+2+3) * (10 + 20); c: rank 0's 100 everywhere
        assertThat(results).containsOnly("18.0 180.0 500.0 1.0 1.0 [rank-0, rank-1]");
    }

    @Test
    void aRankThatLeavesMakesTheOtherFailWithItsRankAndCause() throws Exception {
        List<String> results = onTwoRanks(Duration.ofSeconds(20), g -> {
            if (g.rank() == 1) {
                return "left";
            }
            try {
                Thread.sleep(500);   // rank 1 closes its group meanwhile
                g.allReduceSum(new double[]{1}, "a lonely sum");
                return "no error";
            } catch (CollectiveException e) {
                return e.getMessage();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        assertThat(results.get(0)).contains("rank 0 of 2").contains("all-reduce of a lonely sum failed")
                .contains("another rank has stopped");
    }

    @Test
    void awaitAllWaitsForASlowRankButNotForASilentOne() throws Exception {
        // the timeout is 2 s: rank 1 takes 3 s but its heartbeat says it is alive
        List<String> slow = onTwoRanks(Duration.ofSeconds(2), true, g -> {
            if (g.rank() == 1) {
                sleep(3000);
            }
            String all = String.join(",", g.awaitAll("slow", "r" + g.rank()));
            try {
                g.barrier("no process group");
                return "tensor collective allowed";
            } catch (IllegalStateException e) {
                return all + " " + g.backend();
            }
        });
        assertThat(slow).containsOnly("r0,r1 store");
        // rank 1 leaves without a word: its heartbeat stops and rank 0 gives up after the timeout
        List<String> silent = onTwoRanks(Duration.ofSeconds(2), g -> {
            if (g.rank() == 1) {
                return "left";
            }
            try {
                return String.join(",", g.awaitAll("silent", "r0"));
            } catch (CollectiveException e) {
                return e.getMessage();
            }
        });
        assertThat(silent.get(0)).contains("rank 1 has not finished ('silent')").contains("no heartbeat for 2 s");
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aSingleProcessGroupDoesNothing() {
        try (Collectives g = Collectives.single(); PointerScope scope = new PointerScope()) {
            Tensor t = ones(3);
            g.allReduceSum(List.of(t), "x");
            g.broadcast(List.of(t), 0, "x");
            g.barrier("x");
            assertThat(t.sum().item_double()).isEqualTo(3.0);
            assertThat(g.allReduceSum(new double[]{2}, "x")).containsExactly(2);
            assertThat(g.exchange("k", "v")).containsExactly("v");
            assertThat(g.worldSize()).isEqualTo(1);
            assertThat(g.isLeader()).isTrue();
        }
    }

    @Test
    void aRankWithoutPeersFailsAtTheRendezvousNamingTheAddress() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Rendezvous alone = new Rendezvous(2, 0, "127.0.0.1", port, Duration.ofSeconds(2));
        assertThatThrownBy(() -> Collectives.connect(alone, "cpu")).isInstanceOf(CollectiveException.class)
                .hasMessageContaining("rendezvous at 127.0.0.1:" + port + " failed");
    }
}
