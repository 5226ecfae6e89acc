namespace QemuHotplugHarness.Tests.Ci;

/// <summary>The workflow runner itself on a small workflow (no guests): needs order, matrix, outputs, conditions, artifacts, caches.</summary>
public class WorkflowRunnerTests
{
    private const string Toy = """
        on:
          workflow_dispatch:
            inputs:
              greeting: { type: string, default: "hello" }
        env:
          WHO: world
        defaults:
          run:
            shell: bash
        jobs:
          last:
            needs: [first, fan]
            if: ${{ !cancelled() }}
            runs-on: ubuntu-latest
            steps:
              - uses: actions/download-artifact@v4
                with: { pattern: "part-*", path: parts }
              - uses: actions/cache/restore@v4
                with: { path: kept, key: "kept-${{ github.run_id }}", restore-keys: "kept-" }
              - name: Join
                run: cat parts/*/part.txt > joined.txt; echo "${{ needs.first.outputs.word }}" >> joined.txt; cat kept/night.txt >> joined.txt || true
              - run: mkdir -p kept && echo "night ${{ github.run_id }}" > kept/night.txt
              - uses: actions/cache/save@v4
                with: { path: kept, key: "kept-${{ github.run_id }}" }
              - uses: actions/upload-artifact@v4
                with: { name: joined, path: joined.txt }
          fan:
            needs: first
            runs-on: ubuntu-latest
            strategy:
              matrix:
                part: ["a", "b"]
            steps:
              - run: mkdir out && echo "${{ matrix.part }}${{ strategy.job-index }} $WHO" > out/part.txt
              - run: exit 3
                if: matrix.part == 'B' # compared ignoring case, as GitHub does: fails entry b
              - name: After a failure
                run: echo never
              - uses: actions/upload-artifact@v4
                if: always()
                with: { name: "part-${{ matrix.part }}", path: out }
          first:
            runs-on: ubuntu-latest
            outputs:
              word: ${{ steps.say.outputs.word }}
            steps:
              - id: say
                env:
                  GREETING: ${{ inputs.greeting }}
                run: echo "word=$GREETING" >> "$GITHUB_OUTPUT"
        """;

    [Test]
    public async Task A_small_workflow_runs_in_needs_order_with_its_matrix_outputs_conditions_artifacts_and_caches()
    {
        var scratch = Directory.CreateTempSubdirectory("qhh-workflow-runner-").FullName;
        try
        {
            var file = Path.Combine(scratch, "toy.yml");
            File.WriteAllText(file, Toy);
            var runner = new WorkflowRunner(file, scratch, [], Path.Combine(scratch, "work"), Path.Combine(scratch, "qhh-cache"));
            var night1 = await runner.RunAsync("1");
            Assert.That(night1.Select(s => $"{s.Job}:{s.Step}:{(s.Ran ? s.Succeeded ? "ok" : "failed" : "skipped")}"), Is.EqualTo(new[]
            {
                "first:echo \"word=$GREETING\" >> \"$GITHUB_OUTPUT\":ok",
                "fan:mkdir out && echo \"a0 $WHO\" > out/part.txt:ok", "fan:exit 3:skipped", "fan:After a failure:ok", "fan:actions/upload-artifact@v4:ok",
                "fan:mkdir out && echo \"b1 $WHO\" > out/part.txt:ok", "fan:exit 3:failed", "fan:After a failure:skipped", "fan:actions/upload-artifact@v4:ok",
                "last:actions/download-artifact@v4:ok", "last:actions/cache/restore@v4:ok", "last:Join:ok",
                "last:mkdir -p kept && echo \"night 1\" > kept/night.txt:ok", "last:actions/cache/save@v4:ok", "last:actions/upload-artifact@v4:ok",
            }));
            Assert.That(File.ReadAllText(Path.Combine(runner.Artifacts, "joined", "joined.txt")), Is.EqualTo("a0 world\nb1 world\nhello\n"));
            runner.Inputs["greeting"] = "bye";
            await runner.RunAsync("2");
            Assert.That(File.ReadAllText(Path.Combine(runner.Artifacts, "joined", "joined.txt")), Is.EqualTo("a0 world\nb1 world\nbye\nnight 1\n"),
                "night 2 restores night 1's cache entry by its restore key");
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    [TestCase("inputs.x != '' && 'yes' || 'no'", "no")]
    [TestCase("'a' == 'A'", "true")]
    [TestCase("!(1 == 2) && 'x'", "x")]
    [TestCase("'' || ''", "")]
    [TestCase("'it''s'", "it's")]
    public void Expressions_evaluate_as_on_github(string expression, string expected)
    {
        var e = new WorkflowExpression(path => path == "inputs.x" ? "" : throw new NotSupportedException(path), (_, _) => null);
        Assert.That(WorkflowExpression.Text(e.Evaluate(expression)), Is.EqualTo(expected));
    }

    [Test]
    public void An_expression_the_runner_cannot_read_is_an_error_not_a_guess() =>
        Assert.Throws<NotSupportedException>(() => new WorkflowExpression(_ => "", (_, _) => null).Evaluate("a ? b : c"));
}
