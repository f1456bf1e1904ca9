package dev.cllm.train;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Where the processes of one data-parallel job meet: how many there are, which one this is, and the address of rank
 * 0's store (a c10d {@code TCPStore} that rank 0 serves and every rank connects to), in the style of
 * {@code torchrun}.
 *
 * @param worldSize     number of processes, at least 1
 * @param rank          this process, {@code 0 <= rank < worldSize}; rank 0 serves the store and writes checkpoints
 * @param masterAddress host name or address of rank 0, as the other ranks reach it
 * @param masterPort    TCP port of rank 0's store, 1 to 65535
 * @param timeout       how long any rank waits for the others, at the rendezvous and in every collective, before it
 *                      fails with an error that says so; also bounds rank 0's checkpoint writes and evaluations
 */
public record Rendezvous(int worldSize, int rank, String masterAddress, int masterPort, Duration timeout) {
    /** The default {@link #timeout}: five minutes. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);

    public Rendezvous {
        Objects.requireNonNull(masterAddress, "masterAddress");
        Objects.requireNonNull(timeout, "timeout");
        if (worldSize < 1) {
            throw new IllegalArgumentException("world size must be at least 1, got " + worldSize);
        }
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank " + rank + " is outside 0.." + (worldSize - 1)
                    + " for a world size of " + worldSize);
        }
        if (masterAddress.isBlank()) {
            throw new IllegalArgumentException("the master address is empty");
        }
        if (masterPort < 1 || masterPort > 65535) {
            throw new IllegalArgumentException("master port " + masterPort + " is outside 1..65535");
        }
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("the timeout must be positive, got " + timeout);
        }
    }

    /** Whether this process is rank 0 (serves the store, writes checkpoints and metrics). */
    public boolean isLeader() {
        return rank == 0;
    }

    /**
     * Parses {@code ADDR:PORT} (an IPv6 address in brackets: {@code [::1]:29500}).
     *
     * @throws IllegalArgumentException naming the text when it is not of that form
     */
    public static Rendezvous of(int worldSize, int rank, String master, Duration timeout) {
        Objects.requireNonNull(master, "master");
        int colon = master.lastIndexOf(':');
        if (colon <= 0 || colon == master.length() - 1) {
            throw new IllegalArgumentException("master must be ADDR:PORT, e.g. 10.0.0.1:29500; got '" + master + "'");
        }
        String host = master.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        int port;
        try {
            port = Integer.parseInt(master.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("master must be ADDR:PORT; '" + master.substring(colon + 1)
                    + "' in '" + master + "' is not a port number");
        }
        return new Rendezvous(worldSize, rank, host, port, timeout);
    }

    /**
     * The torchrun-style environment variables {@code WORLD_SIZE}, {@code RANK}, {@code MASTER_ADDR} and
     * {@code MASTER_PORT} (default 29500), or null when {@code WORLD_SIZE} is not set.
     *
     * @throws IllegalArgumentException naming the variable whose value is missing or not a number
     */
    public static Rendezvous fromEnvironment(Map<String, String> env, Duration timeout) {
        String world = env.get("WORLD_SIZE");
        if (world == null || world.isBlank()) {
            return null;
        }
        int worldSize = intVariable(env, "WORLD_SIZE", null);
        int rank = intVariable(env, "RANK", null);
        String address = env.get("MASTER_ADDR");
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("WORLD_SIZE is set but MASTER_ADDR is not");
        }
        return new Rendezvous(worldSize, rank, address, intVariable(env, "MASTER_PORT", 29500), timeout);
    }

    private static int intVariable(Map<String, String> env, String name, Integer fallback) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            if (fallback == null) {
                throw new IllegalArgumentException("WORLD_SIZE is set but " + name + " is not");
            }
            return fallback;
        }
        try {
            return Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable " + name + "='" + value + "' is not a number");
        }
    }

    @Override
    public String toString() {
        return "rank " + rank + " of " + worldSize + " via " + masterAddress + ":" + masterPort;
    }
}
