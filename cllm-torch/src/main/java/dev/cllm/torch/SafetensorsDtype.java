package dev.cllm.torch;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The element types a safetensors file can declare, named as in its header ({@code "dtype": "BF16"}).
 *
 * <p>Each maps to one libtorch {@link ScalarType}; the mapping is only evaluated when a tensor is read or written, so
 * parsing a header never touches native code.
 */
public enum SafetensorsDtype {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    I64(8),
    U64(8),
    F64(8);

    private final int byteSize;

    SafetensorsDtype(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The dtype named {@code name} in a header, or null if the name is not a known dtype. */
    static SafetensorsDtype fromHeaderName(String name) {
        for (SafetensorsDtype dtype : values()) {
            if (dtype.name().equals(name)) {
                return dtype;
            }
        }
        return null;
    }

    /** The libtorch element type with the same bit layout. */
    ScalarType scalarType() {
        switch (this) {
            case BOOL: return ScalarType.Bool;
            case U8: return ScalarType.Byte;
            case I8: return ScalarType.Char;
            case F8_E5M2: return ScalarType.Float8_e5m2;
            case F8_E4M3: return ScalarType.Float8_e4m3fn;
            case I16: return ScalarType.Short;
            case U16: return ScalarType.UInt16;
            case F16: return ScalarType.Half;
            case BF16: return ScalarType.BFloat16;
            case I32: return ScalarType.Int;
            case U32: return ScalarType.UInt32;
            case F32: return ScalarType.Float;
            case I64: return ScalarType.Long;
            case U64: return ScalarType.UInt64;
            case F64: return ScalarType.Double;
            default: throw new AssertionError(this);
        }
    }

    /**
     * The safetensors dtype of a libtorch element type.
     *
     * @throws IllegalArgumentException for types safetensors cannot store (complex, quantized, ...)
     */
    static SafetensorsDtype of(ScalarType scalarType) {
        ScalarType interned = scalarType.intern(); // native enums returned by JavaCPP must be interned before a switch
        switch (interned) {
            case Bool: return BOOL;
            case Byte: return U8;
            case Char: return I8;
            case Float8_e5m2: return F8_E5M2;
            case Float8_e4m3fn: return F8_E4M3;
            case Short: return I16;
            case UInt16: return U16;
            case Half: return F16;
            case BFloat16: return BF16;
            case Int: return I32;
            case UInt32: return U32;
            case Float: return F32;
            case Long: return I64;
            case UInt64: return U64;
            case Double: return F64;
            default: throw new IllegalArgumentException("no safetensors dtype for libtorch type " + interned);
        }
    }
}
