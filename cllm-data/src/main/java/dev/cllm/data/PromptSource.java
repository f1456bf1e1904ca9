package dev.cllm.data;

import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;

/** Where a collection job's prompts come from: a {@link PromptFile} or a list in memory. */
interface PromptSource {

    /** Number of prompts. */
    long count();

    /** The index of the prompt at {@code position} (0-based) in the source. */
    long indexAt(long position);

    /** The prompts at positions {@code [from, to)}. The caller closes the cursor. */
    Cursor open(long from, long to);

    /** The file path, or a description of the list. */
    String description();

    /** SHA-256 of the content (the file's bytes, or the list's ids and answers), lowercase hex. */
    String sha256();

    /** A closeable stream of prompts. */
    interface Cursor extends Iterator<Prompt>, AutoCloseable {
        @Override
        void close();
    }

    static PromptSource of(PromptFile file) {
        return new PromptSource() {
            private long count = -1;

            @Override
            public long count() {
                if (count < 0) {
                    count = file.count();
                }
                return count;
            }

            @Override
            public long indexAt(long position) {
                return position;
            }

            @Override
            public Cursor open(long from, long to) {
                PromptFile.Cursor c = file.open(from, to);
                return new Cursor() {
                    @Override
                    public boolean hasNext() {
                        return c.hasNext();
                    }

                    @Override
                    public Prompt next() {
                        return c.next();
                    }

                    @Override
                    public void close() {
                        c.close();
                    }
                };
            }

            @Override
            public String description() {
                return file.path().toAbsolutePath().normalize().toString();
            }

            @Override
            public String sha256() {
                return file.sha256();
            }
        };
    }

    static PromptSource of(List<Prompt> prompts) {
        List<Prompt> copy = List.copyOf(prompts);
        return new PromptSource() {
            @Override
            public long count() {
                return copy.size();
            }

            @Override
            public long indexAt(long position) {
                return copy.get(Math.toIntExact(position)).index();
            }

            @Override
            public Cursor open(long from, long to) {
                Iterator<Prompt> it = copy.subList(Math.toIntExact(from), Math.toIntExact(to)).iterator();
                return new Cursor() {
                    @Override
                    public boolean hasNext() {
                        return it.hasNext();
                    }

                    @Override
                    public Prompt next() {
                        return it.next();
                    }

                    @Override
                    public void close() {
                    }
                };
            }

            @Override
            public String description() {
                return "a list of " + copy.size() + " prompts";
            }

            @Override
            public String sha256() {
                try {
                    MessageDigest digest = MessageDigest.getInstance("SHA-256");
                    ByteBuffer b = ByteBuffer.allocate(8);
                    for (Prompt p : copy) {
                        digest.update(b.clear().putLong(p.index()).array(), 0, 8);
                        for (TokenIds ids : List.of(p.ids(), p.answer())) {
                            digest.update(b.clear().putLong(ids.size()).array(), 0, 8);
                            for (int i = 0; i < ids.size(); i++) {
                                digest.update(b.clear().putInt(ids.get(i)).array(), 0, 4);
                            }
                        }
                    }
                    return HexFormat.of().formatHex(digest.digest());
                } catch (NoSuchAlgorithmException e) {
                    throw new IllegalStateException(e);
                }
            }
        };
    }
}
