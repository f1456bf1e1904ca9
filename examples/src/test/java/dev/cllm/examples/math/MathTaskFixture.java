package dev.cllm.examples.math;

/** The default task, generated once per test JVM (a few seconds) and shared by the test classes. */
final class MathTaskFixture {
    private MathTaskFixture() {
    }

    static MathTask defaults() {
        return Holder.TASK;
    }

    private static final class Holder {
        static final MathTask TASK = MathTask.generate(MathTaskConfig.defaults());
    }
}
