using SeekSharp.Cli;

return SeekCli.Run(args, Console.Out, Console.Error);
