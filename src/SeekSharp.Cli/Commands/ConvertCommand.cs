using System.CommandLine;
using SeekSharp.Conversion;
using SeekSharp.Models;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek convert HF_DIR OUT.gguf [--type T]</c>, as llama.cpp's convert_hf_to_gguf.py.</summary>
internal static class ConvertCommand
{
    public static Command Create(CliIo io)
    {
        var input = new Argument<string>("model-dir") { Description = "Hugging Face model folder (config.json, tokenizer.json, *.safetensors)" };
        var output = new Argument<string>("output") { Description = "GGUF file to write" };
        var type = new Option<string>("--type", "--outtype")
        {
            Description = "weight type: auto (default: bf16/f16 as the source), f32, f16, bf16, q8_0, q4_0, ..., q4_k_m",
            DefaultValueFactory = _ => "auto",
        };
        var pre = new Option<string?>("--pre") { Description = "tokenizer.ggml.pre to write (default: recognised from tokenizer.json)" };
        var cmd = new Command("convert", "Convert a Hugging Face model folder to GGUF") { input, output, type, pre };
        cmd.SetAction(r =>
        {
            string inDir = r.GetValue(input)!, outPath = r.GetValue(output)!;
            string typeName = r.GetValue(type)!;
            if (!Directory.Exists(inDir)) throw new CliException($"model folder not found: {inDir}");
            if (!File.Exists(Path.Combine(inDir, "config.json"))) throw new CliException($"{inDir} has no config.json (not a Hugging Face model folder)");
            var options = new ConvertOptions
            {
                Type = typeName.Equals("auto", StringComparison.OrdinalIgnoreCase) ? null : QuantizationTarget.Parse(typeName),
                PreTokenizer = r.GetValue(pre),
            };
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using (var bar = new ProgressBar(io.Err, "converting"))
                HfToGgufConverter.Convert(inDir, outPath, options, bar);
            io.Err.WriteLine($"wrote {outPath}: {InfoCommand.Bytes(new FileInfo(outPath).Length)} in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return cmd;
    }
}
