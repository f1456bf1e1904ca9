package dev.cllm.api;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DraftTreeTest {

    @Test
    void aChainIsATreeWhoseNodesFollowEachOther() {
        DraftTree chain = DraftTree.chain(5, 6, 7);
        assertThat(chain.isChain()).isTrue();
        assertThat(chain.maxDepth()).isEqualTo(2);
        assertThat(chain.path(2)).containsExactly(0, 1, 2);
        // selected[i] is the token after node i: 6 follows 5, 9 does not follow 6
        assertThat(chain.deepestVerified(new int[]{6, 9, 1})).isEqualTo(1);
        assertThat(chain.deepestVerified(new int[]{1, 7, 8})).isEqualTo(0);
        assertThat(chain.deepestVerified(new int[]{6, 7, 8})).isEqualTo(2);
    }

    @Test
    void verificationFollowsTheBranchWhoseTokenWasSelected() {
        //        0:5
        //   1:6       3:8
        //   2:7       4:9
        DraftTree t = DraftTree.of(new int[]{5, 6, 7, 8, 9}, new int[]{-1, 0, 1, 0, 3});
        assertThat(t.isChain()).isFalse();
        assertThat(t.depth(4)).isEqualTo(2);
        assertThat(t.path(4)).containsExactly(0, 3, 4);
        assertThat(t.deepestVerified(new int[]{8, 0, 0, 9, 0})).isEqualTo(4);
        assertThat(t.deepestVerified(new int[]{6, 7, 0, 1, 0})).isEqualTo(2);
        assertThat(t.deepestVerified(new int[]{8, 0, 0, 2, 0})).isEqualTo(3);
    }

    @Test
    void malformedTreesAreRefusedWithTheReason() {
        assertThatThrownBy(() -> DraftTree.of(new int[0], new int[0])).hasMessageContaining("at least its root");
        assertThatThrownBy(() -> DraftTree.of(new int[]{1, 2}, new int[]{0, 0})).hasMessageContaining("root");
        assertThatThrownBy(() -> DraftTree.of(new int[]{1, 2}, new int[]{-1, 1}))
                .hasMessageContaining("parent must come before its child");
        assertThatThrownBy(() -> DraftTree.of(new int[]{1, 2}, new int[]{-1})).hasMessageContaining("parents");
        assertThatThrownBy(() -> DraftTree.chain(1, 2).deepestVerified(new int[]{1}))
                .hasMessageContaining("selected");
    }
}
