using System.CommandLine;
using SeekSharp.Models;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek quantize IN.gguf OUT.gguf TYPE</c>, as llama-quantize.</summary>
internal static class QuantizeCommand
{
    public static Command Create(CliIo io)
    {
        var input = new Argument<string>("input") { Description = "source GGUF model" };
        var output = new Argument<string>("output") { Description = "GGUF file to write" };
        var type = new Argument<string>("type") { Description = "target: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k..q6_k, q4_k_m, q5_k_m" };
        var cmd = new Command("quantize", "Convert a model's weights to another type") { input, output, type };
        cmd.SetAction(r =>
        {
            var target = QuantizationTarget.Parse(r.GetValue(type)!);
            string inPath = r.GetValue(input)!, outPath = r.GetValue(output)!;
            if (!File.Exists(inPath)) throw new CliException($"file not found: {inPath}");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var bar = new ProgressBar(io.Err, "quantizing"))
                ModelQuantizer.Quantize(inPath, outPath, target, bar);
            io.Err.WriteLine($"wrote {outPath} ({target.Name}): {InfoCommand.Bytes(new FileInfo(inPath).Length)} -> {InfoCommand.Bytes(new FileInfo(outPath).Length)} in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }
}
