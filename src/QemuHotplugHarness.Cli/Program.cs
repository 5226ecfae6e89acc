using QemuHotplugHarness.Cli;

return await HarnessApp.RunAsync(args);
