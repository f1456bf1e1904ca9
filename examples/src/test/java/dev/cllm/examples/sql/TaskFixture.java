package dev.cllm.examples.sql;

/** The default task, generated once per test JVM (about a second) and shared by the test classes. */
final class TaskFixture {
    private TaskFixture() {
    }

    static SqlTask defaults() {
        return Holder.TASK;
    }

    private static final class Holder {
        static final SqlTask TASK = SqlTask.generate(SqlTaskConfig.defaults());
    }
}
