namespace SeekSharp.Conversion;

/// <summary>Element types of the safetensors format (the spellings its header uses).</summary>
public enum SafeTensorDType
{
    F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, I16, I8, U8, Bool,
}

internal static class SafeTensorDTypes
{
    public static bool TryParse(string s, out SafeTensorDType type)
    {
        switch (s)
        {
            case "F64": type = SafeTensorDType.F64; return true;
            case "F32": type = SafeTensorDType.F32; return true;
            case "F16": type = SafeTensorDType.F16; return true;
            case "BF16": type = SafeTensorDType.BF16; return true;
            case "F8_E4M3": type = SafeTensorDType.F8_E4M3; return true;
            case "F8_E5M2": type = SafeTensorDType.F8_E5M2; return true;
            case "I64": type = SafeTensorDType.I64; return true;
            case "I32": type = SafeTensorDType.I32; return true;
            case "I16": type = SafeTensorDType.I16; return true;
            case "I8": type = SafeTensorDType.I8; return true;
            case "U8": type = SafeTensorDType.U8; return true;
            case "BOOL": type = SafeTensorDType.Bool; return true;
            default: type = default; return false;
        }
    }

    public static int Size(SafeTensorDType t) => t switch
    {
        SafeTensorDType.F64 or SafeTensorDType.I64 => 8,
        SafeTensorDType.F32 or SafeTensorDType.I32 => 4,
        SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.I16 => 2,
        _ => 1,
    };

    public static string Name(SafeTensorDType t) => t == SafeTensorDType.Bool ? "BOOL" : t.ToString();
}
