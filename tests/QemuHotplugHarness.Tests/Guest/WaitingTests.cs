using System.Diagnostics;
using QemuHotplugHarness.Guest;

namespace QemuHotplugHarness.Tests.Guest;

public class WaitingTests
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(5);

    [Test]
    public void A_deadline_expires_after_its_span_and_not_before()
    {
        Assert.That(Deadline.In(TimeSpan.Zero).Expired, Is.True);
        Assert.That(Deadline.In(TimeSpan.FromMilliseconds(-5)).Remaining, Is.EqualTo(TimeSpan.Zero), "never negative");
        var hour = Deadline.In(TimeSpan.FromHours(1));
        Assert.That(hour.Expired, Is.False);
        Assert.That(hour.Remaining, Is.GreaterThan(TimeSpan.FromMinutes(59)).And.LessThanOrEqualTo(TimeSpan.FromHours(1)));
    }

    [Test]
    public async Task Poll_returns_false_once_the_deadline_passes_without_the_condition()
    {
        var calls = 0;
        var watch = Stopwatch.StartNew();
        var held = await Poll.UntilAsync(() => { calls++; return false; }, Deadline.In(TimeSpan.FromMilliseconds(150)), Tick, CancellationToken.None);
        Assert.That(held, Is.False);
        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(150)).And.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(calls, Is.GreaterThan(1), "the condition is polled, not checked once");
    }

    [Test]
    public async Task Poll_returns_true_as_soon_as_the_condition_holds()
    {
        var calls = 0;
        var watch = Stopwatch.StartNew();
        var held = await Poll.UntilAsync(() => ++calls == 3, Deadline.In(TimeSpan.FromMinutes(1)), Tick, CancellationToken.None);
        Assert.That(held, Is.True);
        Assert.That(calls, Is.EqualTo(3));
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)), "does not wait out the deadline");
    }

    [Test]
    public async Task A_condition_that_already_holds_wins_over_an_expired_deadline() =>
        Assert.That(await Poll.UntilAsync(() => true, Deadline.In(TimeSpan.Zero), Tick, CancellationToken.None), Is.True);

    [Test]
    public void Cancelling_stops_the_wait()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
        Assert.That(async () => await Poll.UntilAsync(() => false, Deadline.In(TimeSpan.FromMinutes(1)), Tick, cts.Token),
            Throws.InstanceOf<OperationCanceledException>());
    }
}
