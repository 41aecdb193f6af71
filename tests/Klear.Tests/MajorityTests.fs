/// maj@k: what each reward offers as the vote of a response, and the vote itself, counted by hand.
module Klear.Tests.MajorityTests

open System
open Expecto
open Klear.Host.Configuration
open Klear.Host.Evaluation
open Klear.Host.Rewards
open Klear.Host.Rewards.Code
open Klear.Host.Rewards.Sandbox
open Klear.Host.Training

let private math = MathReward(RewardConfig())
let private score (response: string) = math.Score(response, "5")

/// maj@k of scored samples, grouped by the reward's own judgement of "same answer".
let private vote (reward: IRewardFunction) (rs: RewardResult list) =
    MajorityVote.IsCorrect(rs |> List.map (fun r -> r.Answer) |> Array.ofList, rs |> List.map (fun r -> r.Correct) |> Array.ofList,
                           Func<_, _, _>(fun a b -> reward.SameAnswer(a, b)))

let private byText (answers: string option list) (correct: bool list) =
    MajorityVote.IsCorrect(answers |> List.map Option.toObj |> Array.ofList, Array.ofList correct, Func<_, _, _>(fun a b -> a = b))

let private mathVotes =
    testList "math" [
        test "the vote is the most frequent answer; it is right when the samples holding it were" {
            let rs = [ "<think>a</think>\\boxed{3}"; "<think>b</think>\\boxed{5}"; "<think>c</think>\\boxed{3}" ] |> List.map score
            Expect.equal (rs |> List.map (fun r -> r.Correct)) [ false; true; false ] "one correct sample"
            Expect.isFalse (vote math rs) "3 has two votes and is wrong"
            let rs = [ "<think>a</think>\\boxed{5}"; "<think>b</think>\\boxed{3}"; "<think>c</think>\\boxed{5}" ] |> List.map score
            Expect.isTrue (vote math rs) "5 has two votes and is right"
        }
        test "equivalent spellings of one answer vote together, as the verifier judges them" {
            let rs = [ "<think>a</think>\\boxed{3}"; "<think>b</think>\\boxed{\\frac{10}{2}}"; "<think>c</think>\\boxed{3}"
                       "<think>d</think>The answer is \\boxed{5}"; "<think>e</think>\\boxed{5.0}" ] |> List.map score
            Expect.equal (rs |> List.map (fun r -> r.Correct)) [ false; true; false; true; true ] "verdicts"
            Expect.isTrue (math.SameAnswer(rs[1].Answer, rs[3].Answer)) "10/2 and 5 are one answer"
            Expect.isFalse (math.SameAnswer(rs[0].Answer, rs[3].Answer)) "3 and 5 are not"
            Expect.isTrue (vote math rs) "three spellings of 5 outvote two 3s"
            Expect.isFalse (byText (rs |> List.map (fun r -> Option.ofObj r.Answer)) (rs |> List.map (fun r -> r.Correct)))
                "grouping by text alone would have let 3 win: the test can tell the two apart"
        }
        test "a gated response votes with its answer; no answer casts no vote; ties go to the answer seen first" {
            let gated = score "<think>forgot to close \\boxed{5}"
            Expect.isFalse gated.Correct "the think gate fails it"
            Expect.isNotNull gated.Answer "but it answered"
            Expect.isNull (score "<think>x</think> I am not sure").Answer "nothing to vote with"
            Expect.isTrue (vote math [ gated; score "<think>b</think>\\boxed{5}"; score "<think>c</think>\\boxed{3}" ]) "5 wins with two votes"
            Expect.isFalse (byText [ None; None ] [ false; false ]) "no votes, no majority"
            Expect.isTrue (byText [ Some "5"; Some "3" ] [ true; false ]) "tie: first seen wins"
            Expect.isFalse (byText [ Some "3"; Some "5" ] [ false; true ]) "tie: first seen wins"
        }
    ]

let private codeVotes =
    Requirements.sandboxTest "code: programs that behave alike on the tests vote together, however they are written" {
        use sb = new PythonSandbox(SandboxLimits())
        let pool = new SandboxPool(sb, 2)
        use _ = { new IDisposable with member _.Dispose() = pool.DisposeAsync().AsTask().Wait() }
        let reward = CodeReward(pool)
        let gt = """{"inputs": ["1 2", "3 4", "10 20"], "outputs": ["3", "7", "30"], "timeout": 5}"""
        let respond (program: string) =
            reward.ScoreAsync($"<think>t</think>\n```python\n{program}\n```", gt).GetAwaiter().GetResult()
        let sumA = respond "print(sum(map(int, input().split())))"
        let sumB = respond "a, b = input().split()\nprint(int(a) + int(b))"
        let zero = respond "print(0)"
        let product = respond "a, b = map(int, input().split())\nprint(a * b)"
        Expect.isTrue (sumA.Correct && sumB.Correct && not zero.Correct && not product.Correct) "verdicts"
        Expect.equal sumA.Answer sumB.Answer "two ways to add: one vote"
        Expect.notEqual sumA.Answer zero.Answer "a different behaviour is a different vote"
        Expect.notEqual zero.Answer product.Answer "two wrong programs that differ do not pool their votes"
        Expect.isTrue (vote reward [ zero; sumA; product; sumB ]) "the adders outvote two different wrong programs"
        Expect.isFalse (vote reward [ zero; zero; sumA ]) "two identical wrong programs outvote one adder"
    }

[<Tests>]
let tests = testList "maj@k" [ mathVotes; testSequenced codeVotes ]
