using SeekSharp.Bench.Kernels;

// Kernel microbenchmarks: each mode times an old and a new kernel path alternately in the same process, single-threaded,
// and prints medians and new/old ratios (load from other processes hits both sides alike).
//
//   dotnet run -c Release --project bench/SeekSharp.Bench.Kernels -- MODE [options]
//
// Modes (one file each):
//   decode   one-token products with Q4_0/Q5_0/Q8_0/Q4_1/Q5_1 weights: one-row vs multi-row kernels (DecodeBench.cs)
//   stream   one-token products on T threads against the memory bandwidth probe, per weight shape (StreamBench.cs)
//   prefill  n-token products, tiled vs paired kernels, and the Q8_0 tile kernel alone in L1 (PrefillBench.cs)
//   ports    throughput of the Q8_0 block product's instructions, alone and in pairs, 512 and 256 bits (PortsBench.cs)

if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: SeekSharp.Bench.Kernels MODE [options]   (modes: decode, stream, prefill, ports)");
    Console.WriteLine(DecodeBench.Usage);
    Console.WriteLine(StreamBench.Usage);
    Console.WriteLine(PrefillBench.Usage);
    Console.WriteLine(PortsBench.Usage);
    return args.Length == 0 ? 1 : 0;
}
string[] rest = args[1..];
// As the models do: the kernels are compiled fully optimized at first call, and only read statics as constants (with
// no initialization checks in their loops) when the classes are initialized before that.
SeekSharp.Numerics.KernelStatics.EnsureInitialized();
return args[0] switch
{
    "decode" => DecodeBench.Run(rest),
    "stream" => StreamBench.Run(rest),
    "prefill" => PrefillBench.Run(rest),
    "ports" => PortsBench.Run(rest),
    _ => Unknown(args[0]),
};

static int Unknown(string mode)
{
    Console.Error.WriteLine($"unknown mode '{mode}' (modes: decode, stream, prefill, ports)");
    return 1;
}
