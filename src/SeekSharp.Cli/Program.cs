Console.WriteLine("seek");
