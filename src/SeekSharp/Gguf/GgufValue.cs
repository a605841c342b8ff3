using System.Globalization;

namespace SeekSharp.Gguf;

/// <summary>Metadata value types, numbered as in the GGUF specification.</summary>
public enum GgufValueType : uint
{
    UInt8 = 0, Int8 = 1, UInt16 = 2, Int16 = 3, UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, UInt64 = 10, Int64 = 11, Float64 = 12,
}

/// <summary>
/// One metadata value. Scalars are boxed CLR primitives of the exact GGUF type (byte, sbyte, ushort, short, uint, int,
/// float, bool, string, ulong, long, double); arrays are <see cref="GgufArray"/>.
/// Accessors convert between numeric types when the value fits, because writers disagree on signedness and width
/// (llama.cpp itself accepts either).
/// </summary>
public sealed class GgufValue
{
    public GgufValue(GgufValueType type, object value)
    {
        Type = type;
        Value = value;
    }

    public GgufValueType Type { get; }
    public object Value { get; }

    public static GgufValue Of(string v) => new(GgufValueType.String, v);
    public static GgufValue Of(uint v) => new(GgufValueType.UInt32, v);
    public static GgufValue Of(int v) => new(GgufValueType.Int32, v);
    public static GgufValue Of(ulong v) => new(GgufValueType.UInt64, v);
    public static GgufValue Of(long v) => new(GgufValueType.Int64, v);
    public static GgufValue Of(float v) => new(GgufValueType.Float32, v);
    public static GgufValue Of(double v) => new(GgufValueType.Float64, v);
    public static GgufValue Of(bool v) => new(GgufValueType.Bool, v);
    public static GgufValue Of(string[] v) => new(GgufValueType.Array, new GgufArray(GgufValueType.String, v));
    public static GgufValue Of(int[] v) => new(GgufValueType.Array, new GgufArray(GgufValueType.Int32, v));
    public static GgufValue Of(uint[] v) => new(GgufValueType.Array, new GgufArray(GgufValueType.UInt32, v));
    public static GgufValue Of(float[] v) => new(GgufValueType.Array, new GgufArray(GgufValueType.Float32, v));
    public static GgufValue Of(bool[] v) => new(GgufValueType.Array, new GgufArray(GgufValueType.Bool, v));
    public static GgufValue Of(GgufArray v) => new(GgufValueType.Array, v);

    public bool IsInteger => Type is GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.UInt16 or GgufValueType.Int16
        or GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.UInt64 or GgufValueType.Int64;

    public bool IsNumber => IsInteger || Type is GgufValueType.Float32 or GgufValueType.Float64;

    public string AsString() => Value as string ?? throw Mismatch("a string");

    public bool AsBool() => Value is bool b ? b : IsInteger ? AsInt64() != 0 : throw Mismatch("a bool");

    public long AsInt64()
    {
        return Value switch
        {
            byte v => v,
            sbyte v => v,
            ushort v => v,
            short v => v,
            uint v => v,
            int v => v,
            long v => v,
            ulong v when v <= long.MaxValue => (long)v,
            bool v => v ? 1 : 0,
            _ => throw Mismatch("an integer"),
        };
    }

    public int AsInt32()
    {
        long v = AsInt64();
        if (v is < int.MinValue or > int.MaxValue) throw new GgufFormatException($"value {v} does not fit in 32 bits");
        return (int)v;
    }

    public double AsDouble() => Value switch
    {
        float f => f,
        double d => d,
        _ when IsInteger => AsInt64(),
        _ => throw Mismatch("a number"),
    };

    public float AsSingle() => Value is float f ? f : (float)AsDouble();

    public GgufArray AsArray() => Value as GgufArray ?? throw Mismatch("an array");

    private GgufFormatException Mismatch(string wanted) => new($"metadata value of type {Type} is not {wanted}");

    public override string ToString() => Value switch
    {
        string s => s,
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        GgufArray a => a.ToString(),
        _ => Convert.ToString(Value, CultureInfo.InvariantCulture) ?? "",
    };
}

/// <summary>A typed GGUF array. <see cref="Items"/> is a CLR array of the element type (string[] for strings,
/// GgufArray[] for nested arrays).</summary>
public sealed class GgufArray
{
    public GgufArray(GgufValueType elementType, Array items)
    {
        ElementType = elementType;
        Items = items;
    }

    public GgufValueType ElementType { get; }
    public Array Items { get; }
    public int Count => Items.Length;

    public string[] AsStrings() => Items as string[] ?? throw new GgufFormatException($"array of {ElementType} is not an array of strings");

    public int[] AsInt32s()
    {
        if (Items is int[] ints) return ints;
        var result = new int[Items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = new GgufValue(ElementType, Items.GetValue(i)!).AsInt32();
        return result;
    }

    public float[] AsSingles()
    {
        if (Items is float[] floats) return floats;
        var result = new float[Items.Length];
        for (int i = 0; i < result.Length; i++)
            result[i] = new GgufValue(ElementType, Items.GetValue(i)!).AsSingle();
        return result;
    }

    public override string ToString()
    {
        const int Shown = 8;
        var parts = new List<string>();
        for (int i = 0; i < Math.Min(Count, Shown); i++)
        {
            object item = Items.GetValue(i)!;
            parts.Add(item is GgufArray a ? a.ToString() : new GgufValue(ElementType, item).ToString());
        }
        if (Count > Shown) parts.Add($"... ({Count} items)");
        return "[" + string.Join(", ", parts) + "]";
    }
}
