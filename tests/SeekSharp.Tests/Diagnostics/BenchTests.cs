using System.Text.Json;
using SeekSharp.Cli;
using SeekSharp.Diagnostics;
using SeekSharp.Gguf;
using SeekSharp.Numerics.Threading;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Diagnostics;

/// <summary><c>seek bench</c> and the measurement pieces behind it (kept tiny: these check wiring, not speed).</summary>
public class BenchTests(TestModels models) : IClassFixture<TestModels>
{
    private static (int Code, string Out, string Err) Seek(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void BenchPrintsLlamaBenchTable()
    {
        string path = models.Get("qwen2", GgmlType.Q8_0);
        var (code, text, err) = Seek("bench", "-m", path, "-p", "8", "-n", "4", "-r", "2", "-t", "2", "--no-bandwidth");
        Assert.True(code == 0, err);
        Assert.Contains("| model ", text);
        Assert.Contains("CPU (SeekSharp)", text);
        Assert.Contains("pp8", text);
        Assert.Contains("tg4", text);
        Assert.Contains("peak RSS", text);
        Assert.Contains("per million generated tokens at $0.0832/h", text);
    }

    [Fact]
    public void BenchJsonHasEveryFigure()
    {
        string path = models.Get("llama", GgmlType.Q4_K);
        var (code, json, err) = Seek("bench", "-m", path, "-p", "4", "-n", "2", "-r", "1", "-t", "1", "--json", "--price-per-hour", "1.5");
        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal("CPU (SeekSharp)", root.GetProperty("backend").GetString());
        Assert.Equal(1, root.GetProperty("n_threads").GetInt32());
        var tests = root.GetProperty("tests").EnumerateArray().ToList();
        Assert.Equal(["pp4", "tg2"], tests.Select(t => t.GetProperty("test").GetString()));
        Assert.All(tests, t => Assert.True(t.GetProperty("avg_ts").GetDouble() > 0));
        Assert.True(root.GetProperty("peak_rss_bytes").GetInt64() > 0);
        Assert.True(root.GetProperty("bandwidth_bytes_per_s").GetDouble() > 1e8);
        Assert.True(root.GetProperty("decode_ceiling_ts").GetDouble() > 0);
        double tg = tests[1].GetProperty("avg_ts").GetDouble();
        Assert.Equal(1.5 / 3600 / tg * 1e6, root.GetProperty("usd_per_million_generated_tokens").GetDouble(), 6);
        // One probe per tg repetition, and the share is that repetition's rate against its own probe.
        double probe = Assert.Single(root.GetProperty("bandwidth_samples_bytes_per_s").EnumerateArray()).GetDouble();
        Assert.Equal(probe, root.GetProperty("bandwidth_bytes_per_s").GetDouble());
        double perToken = root.GetProperty("weight_bytes_per_token").GetInt64();
        Assert.Equal(tg * perToken / probe, root.GetProperty("decode_share_of_ceiling").GetDouble(), 9);
    }

    [Theory]
    [InlineData("-p", "0", "-n", "0")]
    [InlineData("-r", "0")]
    [InlineData("--price-per-hour", "-1")]
    public void BenchRejectsBadArguments(params string[] extra)
    {
        string path = models.Get("qwen2", GgmlType.Q8_0);
        var (code, _, err) = Seek(["bench", "-m", path, .. extra]);
        Assert.Equal(1, code);
        Assert.StartsWith("seek: error:", err);
    }

    [Fact]
    public void WeightBytesPerTokenCountsOneEmbeddingRowUnlessTied()
    {
        using var file = GgufFile.Open(models.Get("qwen2", GgmlType.Q8_0));
        long all = file.Tensors.Sum(t => t.ByteSize);
        long perToken = InferenceBenchmark.WeightBytesPerToken(file);
        if (file.TryGetTensor("output.weight", out _))
        {
            var e = file.GetTensor("token_embd.weight");
            Assert.Equal(all - e.ByteSize + e.ByteSize / e.Rows, perToken);
        }
        else
            Assert.Equal(all, perToken);
        Assert.Equal(file.Tensors.Sum(t => t.ElementCount), InferenceBenchmark.ParameterCount(file));
    }

    [Fact]
    public void WeightBytesPerTokenCountsOnlyTheUsedExperts()
    {
        using var file = GgufFile.Open(models.Get("deepseek2", GgmlType.Q8_0));
        int experts = file.GetInt32("deepseek2.expert_count"), used = file.GetInt32("deepseek2.expert_used_count");
        Assert.InRange(used, 1, experts - 1);
        long expected = 0;
        foreach (var t in file.Tensors)
            expected += t.Name == "token_embd.weight" && file.TryGetTensor("output.weight", out _) ? t.ByteSize / t.Rows
                : t.Name.EndsWith("_exps.weight", StringComparison.Ordinal) ? t.ByteSize / experts * used
                : t.ByteSize;
        Assert.Contains(file.Tensors, t => t.Name.EndsWith("_exps.weight", StringComparison.Ordinal));
        Assert.Equal(expected, InferenceBenchmark.WeightBytesPerToken(file));
    }

    [Fact]
    public void BandwidthProbeReportsAPlausibleRate()
    {
        using var pool = new WorkerPool(2);
        double bps = MemoryBandwidth.Measure(pool, 16L << 20, passes: 2);
        Assert.InRange(bps, 1e8, 1e13);
    }

    [Fact]
    public void SampleStatisticsMatchLlamaBench()
    {
        var s = new BenchmarkSample("tg4", 4, [10, 12, 14]);
        Assert.Equal(12, s.Mean, 12);
        Assert.Equal(2, s.StandardDeviation, 12);
        Assert.Equal(12, s.Median, 12);
        Assert.Equal(0.0832 / 3600 / 20 * 1e6, InferenceBenchmark.CostPerMillionTokens(0.0832, 20), 12);
    }

    [Fact]
    public void PeakResidentSetIsAtLeastTheCurrentOne()
    {
        long now = ProcessMemory.ResidentBytes();
        Assert.True(now > 0);
        Assert.True(ProcessMemory.PeakResidentBytes() >= now / 2);
    }
}
