using System.Diagnostics;
using System.Text.Json;
using SeekSharp.Gguf;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Cli;

/// <summary>
/// End to end with the JIT's SIMD support switched off by environment (as a user would on an older CPU): the seek
/// process must produce exactly the tokens the fully vectorized run produces, for every weight-type family.
/// </summary>
public class SimdFallbackTests(TestModels models) : IClassFixture<TestModels>
{
    private static string RunSeek(string model, params (string Key, string Value)[] env)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "seek.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { dll, "run", "-m", model, "-p", "The capital of France is", "-n", "16", "--temp", "0", "--ignore-eos", "--json", "-t", "2" })
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "seek did not finish");
        Assert.True(p.ExitCode == 0, stderr);
        return JsonDocument.Parse(stdout).RootElement.GetProperty("tokens").ToString();
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F16)]
    public void ScalarAndAvx2PathsGiveTheSameTokens(GgmlType type)
    {
        string model = models.Get("qwen2", type);
        string full = RunSeek(model);
        Assert.Equal(full, RunSeek(model, ("DOTNET_EnableAVX512", "0"), ("DOTNET_EnableAVX512F", "0")));
        Assert.Equal(full, RunSeek(model, ("DOTNET_EnableAVX2", "0"), ("DOTNET_EnableAVX512", "0"), ("DOTNET_EnableAVX512F", "0")));
        Assert.Equal(full, RunSeek(model, ("DOTNET_EnableHWIntrinsic", "0")));
    }
}
