/**
 * Tests only: the module boundaries written down as ArchUnit rules over the compiled classes of every module.
 */
package dev.cllm.architecture;
