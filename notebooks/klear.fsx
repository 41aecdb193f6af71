// Loads Klear into a notebook kernel (or `dotnet fsi`): `#load "klear.fsx"` after the cell `#load "check-build.fsx"`.
//
// Why from the build output and not `#r "nuget: ..."`: the kernel would load TorchSharp from the NuGet cache, whose
// libLibTorchSharp.so is the unpatched one that Debian 12 refuses (docs/platform.md, "The Debian 12 load failure"),
// and the kernel's own FSharp.Core (10.0.0) cannot satisfy Plotly.NET's package. The build output of the `klear`
// program has every assembly Klear uses and the patched native library beside TorchSharp.dll; referencing the DLLs
// by path lets the kernel keep its FSharp.Core and makes TorchSharp find the patched library in its own folder.
#r ".lib/TorchSharp.dll"
#r ".lib/Klear.Algorithms.dll"
#r ".lib/Klear.Verifier.dll"
#r ".lib/klear.dll"
#r ".lib/DynamicObj.dll"
#r ".lib/Giraffe.ViewEngine.dll"
#r ".lib/Plotly.NET.dll"

open System
open System.IO
open System.Text
open Plotly.NET

/// Paths, checks and charts shared by the notebooks.
module Nb =
    let notebooks = __SOURCE_DIRECTORY__
    let root = Path.GetFullPath(Path.Combine(notebooks, ".."))
    let bin = Path.Combine(root, "src", "Klear.Host", "bin", "Release", "net10.0", "linux-x64")

    /// The `klear` program of the same build (for cells that run a command).
    let klear = Path.Combine(bin, "klear")

    // Load the patched native wrapper explicitly, by path, before TorchSharp looks for one: TorchSharp then reuses
    // the loaded library instead of probing (the NuGet cache's copy would fail on Debian 12).
    let private torchSharpNative =
        let path = Path.Combine(notebooks, ".lib", "libLibTorchSharp.so")
        try
            Runtime.InteropServices.NativeLibrary.Load path |> ignore
            path
        with e ->
            failwith
                $"TorchSharp's native library did not load from {path} ({e.Message}). Rebuild Klear with \
                  `dotnet build src/Klear.Host -c Release` (the build patches it for Debian 12); docs/platform.md explains."

    /// The GEMM kernels `klear` runs (MklDispatch: MKL's Intel kernels on AMD CPUs), set before any BLAS call so a
    /// notebook's numbers match the command line's on the same machine.
    let mklKernels =
        Klear.Host.Model.MklDispatch.PreferIntelKernels() |> ignore
        Klear.Host.Model.MklDispatch.Kernels

    /// A tensor operation, so a broken native set-up fails here, in words, rather than in the first cell using torch.
    let torchOk =
        try
            let t = TorchSharp.torch.ones (3L)
            t.sum().item<float32> () = 3.0f
        with e ->
            failwith $"TorchSharp loaded but does not run ({e.GetType().Name}: {e.Message}). Native library: {torchSharpNative}"

    /// Every check a notebook asserts prints `CHECK ok: <what>`; a failed one throws, which fails the cell (and the
    /// headless run: notebooks/run counts both).
    let check (what: string) (ok: bool) (detail: string) =
        if ok then printfn "CHECK ok: %s" what
        else failwith $"CHECK failed: {what}: {detail}"

    /// Relative closeness for the checks against worked values.
    let close (tol: float) (a: float) (b: float) = abs (a - b) <= tol * (1.0 + abs b)

    // ---- charts -------------------------------------------------------------------------------------------------
    // Each chart is built twice from the same series: a Plotly.NET chart saved as an interactive HTML file under
    // notebooks/charts/ (gitignored) that references one local copy of plotly.js (extracted from Plotly.NET, so
    // nothing comes from the internet), and a small static SVG shown in the notebook, so the committed outputs render
    // where notebooks are browsed (GitHub strips scripts) without 3.6 MB of plotly.js per chart.

    type Series = { Name: string; X: float[]; Y: float[] }
    type Marker = { Label: string; At: float }

    /// One panel: series against a shared x, vertical markers (e.g. the clip bounds).
    type Panel = { Title: string; XLabel: string; YLabel: string; Series: Series list; VLines: Marker list }

    /// A static SVG shown in the notebook (the formatter below emits image/svg+xml).
    type Svg = { Svg: string; Html: string option }

    let series name (xs: float seq) (ys: float seq) = { Name = name; X = Array.ofSeq xs; Y = Array.ofSeq ys }

    let private palette = [| "#1f77b4"; "#d62728"; "#2ca02c"; "#ff7f0e"; "#9467bd"; "#8c564b"; "#e377c2"; "#17becf" |]
    let private f (x: float) = x.ToString("0.##", Globalization.CultureInfo.InvariantCulture)
    let private esc (s: string) = s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;")

    let private ticks (lo: float) (hi: float) =
        let span = max (hi - lo) 1e-9
        let raw = span / 5.0
        let mag = 10.0 ** floor (log10 raw)
        let step = [ 1.0; 2.0; 2.5; 5.0; 10.0 ] |> List.map ((*) mag) |> List.find (fun s -> s >= raw)
        [ ceil (lo / step) .. floor (hi / step) ] |> List.map (fun k -> k * step)

    /// Panels side by side (columns), each `w × h` pixels.
    let svgOf (panels: Panel list) =
        let w, h, ml, mr, mt, mb = 360.0, 250.0, 48.0, 10.0, 26.0, 52.0
        let sb = StringBuilder()
        let total = w * float panels.Length
        sb.Append($"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{f total}\" height=\"{f (h + 18.0)}\" font-family=\"sans-serif\" font-size=\"10\">")
        |> ignore
        sb.Append($"<rect width=\"{f total}\" height=\"{f (h + 18.0)}\" fill=\"white\"/>") |> ignore
        panels
        |> List.iteri (fun i p ->
            let ox = w * float i
            let finite = Array.filter Double.IsFinite
            let xs = p.Series |> Seq.collect (fun s -> finite s.X) |> Array.ofSeq
            let ys = p.Series |> Seq.collect (fun s -> finite s.Y) |> Array.ofSeq
            let x0, x1 = Array.min xs, Array.max xs
            let y0, y1 =
                let a, b = Array.min ys, Array.max ys
                let pad = if b > a then (b - a) * 0.06 else max (abs b * 0.1) 0.05
                a - pad, b + pad
            let px x = ox + ml + (x - x0) / (max (x1 - x0) 1e-9) * (w - ml - mr)
            let py y = mt + (y1 - y) / (max (y1 - y0) 1e-9) * (h - mt - mb)
            let line (xa: float) ya xb yb (style: string) =
                sb.Append($"<line x1=\"{f xa}\" y1=\"{f ya}\" x2=\"{f xb}\" y2=\"{f yb}\" {style}/>") |> ignore
            let text (x: float) (y: float) (anchor: string) (s: string) (extra: string) =
                sb.Append($"<text x=\"{f x}\" y=\"{f y}\" text-anchor=\"{anchor}\" {extra}>{esc s}</text>") |> ignore
            text (ox + w / 2.0) 14.0 "middle" p.Title "font-size=\"12\" font-weight=\"bold\""
            for t in ticks y0 y1 do
                line (px x0) (py t) (px x1) (py t) "stroke=\"#eee\""
                text (ox + ml - 4.0) (py t + 3.0) "end" (t.ToString("0.#####", Globalization.CultureInfo.InvariantCulture)) ""
            for t in ticks x0 x1 do
                text (px t) (h - mb + 12.0) "middle" (f t) ""
            line (px x0) (py y0) (px x1) (py y0) "stroke=\"#888\""
            line (px x0) (py y0) (px x0) (py y1) "stroke=\"#888\""
            if y0 < 0.0 && y1 > 0.0 then line (px x0) (py 0.0) (px x1) (py 0.0) "stroke=\"#bbb\""
            text (ox + ml + (w - ml - mr) / 2.0) (h - mb + 24.0) "middle" p.XLabel ""
            text (ox + 10.0) (mt + (h - mt - mb) / 2.0) "middle" p.YLabel
                $"transform=\"rotate(-90 {f (ox + 10.0)} {f (mt + (h - mt - mb) / 2.0)})\""
            for m in p.VLines do
                line (px m.At) (py y0) (px m.At) (py y1) "stroke=\"#999\" stroke-dasharray=\"4 3\""
                text (px m.At + 2.0) (mt + 9.0) "start" m.Label "fill=\"#666\""
            p.Series
            |> List.iteri (fun k s ->
                let pts =
                    Array.zip s.X s.Y
                    |> Array.filter (fun (x, y) -> Double.IsFinite x && Double.IsFinite y)
                    |> Array.map (fun (x, y) -> $"{f (px x)},{f (py y)}")
                    |> String.concat " "
                let c = palette[k % palette.Length]
                sb.Append($"<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.6\" points=\"{pts}\"/>") |> ignore
                // legend below the axis, two per row
                let lx = ox + ml + float (k % 2) * 150.0
                let ly = h - mb + 36.0 + float (k / 2) * 11.0
                line lx (ly - 3.0) (lx + 14.0) (ly - 3.0) $"stroke=\"{c}\" stroke-width=\"2\""
                text (lx + 18.0) ly "start" s.Name ""))
        sb.Append("</svg>") |> ignore
        sb.ToString()

    let chartsDir = Path.Combine(notebooks, "charts")

    /// plotly.js as Plotly.NET embeds it, written once next to the HTML charts.
    let private plotlyJs () =
        Directory.CreateDirectory chartsDir |> ignore
        let path = Path.Combine(chartsDir, "plotly.min.js")
        if not (File.Exists path) then
            let asm = typeof<Trace>.Assembly
            let name = asm.GetManifestResourceNames() |> Array.find (fun n -> n.EndsWith ".min.js")
            use s = asm.GetManifestResourceStream name
            use o = File.Create path
            s.CopyTo o
        "plotly.min.js"

    /// The same panels as a Plotly.NET chart (a grid of line charts with the markers as shapes).
    let plotlyOf (panels: Panel list) =
        let charts =
            panels
            |> List.map (fun p ->
                Chart.combine (p.Series |> List.map (fun s -> Chart.Line(s.X, s.Y, Name = s.Name)))
                |> Chart.withXAxisStyle (TitleText = p.XLabel)
                |> Chart.withYAxisStyle (TitleText = p.YLabel))
        // The markers go on the grid, one set per subplot's axes (x, x2, ...): shapes of a panel would be dropped.
        let shapes =
            panels
            |> List.mapi (fun i p ->
                let axis = if i = 0 then "x" else $"x{i + 1}"
                p.VLines
                |> List.map (fun m ->
                    LayoutObjects.Shape.init (
                        ShapeType = StyleParam.ShapeType.Line, X0 = m.At, X1 = m.At, Y0 = 0.0, Y1 = 1.0, Xref = axis,
                        Yref = "paper", Line = Line.init (Dash = StyleParam.DrawingStyle.Dash, Color = Color.fromString "grey"))))
            |> List.concat
        Chart.Grid(1, panels.Length) charts
        |> Chart.withShapes shapes
        |> Chart.withTitle (panels |> List.map (fun p -> p.Title) |> String.concat "   |   ")

    /// Shows the panels: the SVG in the notebook, the interactive chart saved to notebooks/charts/<name>.html.
    let chart (name: string) (panels: Panel list) =
        let js = plotlyJs ()
        let c =
            plotlyOf panels
            |> Chart.withSize (420.0 * float panels.Length, 420.0)
            |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.CDN js))
        let html = Path.Combine(chartsDir, name + ".html")
        File.WriteAllText(html, GenericChart.toEmbeddedHTML c)
        { Svg = svgOf panels; Html = Some html }

    /// A PNG file shown in the notebook as an image/png output (base64, as notebooks store images).
    type Png = { Path: string; Base64: string }
    let png (path: string) = { Path = path; Base64 = Convert.ToBase64String(File.ReadAllBytes path) }

    /// An HTML table from a header and rows (rendered in the notebook output).
    type Table = { Header: string list; Rows: string list list }
    let table header rows = { Header = header; Rows = rows }

    let private tableHtml (t: Table) =
        let cell tag (s: string) = $"<{tag}>{esc s}</{tag}>"
        let row tag cells = "<tr>" + (cells |> List.map (cell tag) |> String.concat "") + "</tr>"
        "<table>" + row "th" t.Header + (t.Rows |> List.map (row "td") |> String.concat "") + "</table>"

    let private tableText (t: Table) =
        let all = t.Header :: t.Rows
        let widths = t.Header |> List.mapi (fun i _ -> all |> List.map (fun r -> (List.item i r).Length) |> List.max)
        all |> List.map (fun r -> List.map2 (fun (c: string) w -> c.PadRight w) r widths |> String.concat "  ")
        |> String.concat "\n"

    // Formatters, only inside a notebook kernel (plain `dotnet fsi` prints records as usual).
    do
        try
            let formatter = Type.GetType "Microsoft.DotNet.Interactive.Formatting.Formatter, Microsoft.DotNet.Interactive.Formatting"
            if not (isNull formatter) then
                let register (mime: string) (write: 'T -> TextWriter -> unit) =
                    let m =
                        formatter.GetMethods()
                        |> Array.find (fun m ->
                            m.Name = "Register" && m.IsGenericMethod
                            && (let ps = m.GetParameters()
                                ps.Length = 2 && ps[0].ParameterType.Name.StartsWith "Action" && ps[1].ParameterType = typeof<string>))
                    m.MakeGenericMethod(typeof<'T>).Invoke(null, [| Action<'T, TextWriter>(fun v w -> write v w); box mime |]) |> ignore
                register "image/svg+xml" (fun (s: Svg) w -> w.Write s.Svg)
                register "text/html" (fun (s: Svg) w -> w.Write s.Svg)
                formatter.GetMethod("SetPreferredMimeTypesFor").Invoke(null, [| box typeof<Svg>; box [| "image/svg+xml" |] |])
                |> ignore
                register "text/plain" (fun (s: Svg) w -> w.Write(match s.Html with Some p -> $"interactive chart: {p}" | None -> "chart"))
                register "image/png" (fun (p: Png) w -> w.Write p.Base64)
                formatter.GetMethod("SetPreferredMimeTypesFor").Invoke(null, [| box typeof<Png>; box [| "image/png" |] |])
                |> ignore
                register "text/plain" (fun (p: Png) w -> w.Write $"image: {p.Path}")
                register "text/html" (fun (t: Table) w -> w.Write(tableHtml t))
                register "text/plain" (fun (t: Table) w -> w.Write(tableText t))
        with e -> eprintfn "notebook formatters not registered: %s" e.Message

/// Run directories of `klear train` / `klear quickstart`: running one, reading what it wrote.
module Runs =
    open System.Text.Json

    /// One line of metrics.jsonl: its phase (sft, rl, eval-sft, eval-rl), step and every numeric value.
    type MetricRow = { Phase: string; Step: int; Values: Map<string, float> }

    /// One problem of an eval/*.jsonl file.
    type EvalRow =
        { Id: string; Prompt: string; GroundTruth: string; Accuracy: float; GreedyCorrect: bool
          GreedyResponse: string; Responses: string list; Correct: bool list }

    /// Where the notebooks put their runs (gitignored: `runs/` anywhere is).
    let dir = Path.Combine(Nb.notebooks, "runs")

    let metrics (run: string) =
        File.ReadLines(Path.Combine(run, "metrics.jsonl"))
        |> Seq.filter (fun l -> l.Trim() <> "")
        |> Seq.map (fun l ->
            let r = JsonDocument.Parse(l).RootElement
            { Phase = r.GetProperty("phase").GetString()
              Step = r.GetProperty("step").GetInt32()
              Values =
                r.EnumerateObject()
                |> Seq.filter (fun p -> p.Value.ValueKind = JsonValueKind.Number && p.Name <> "step")
                |> Seq.map (fun p -> p.Name, p.Value.GetDouble())
                |> Map.ofSeq })
        |> List.ofSeq

    let evalFile (path: string) =
        File.ReadLines path
        |> Seq.filter (fun l -> l.Trim() <> "")
        |> Seq.map (fun l ->
            let r = JsonDocument.Parse(l).RootElement
            let strs (n: string) = [ for x in r.GetProperty(n).EnumerateArray() -> x.GetString() ]
            { Id = r.GetProperty("id").GetString(); Prompt = r.GetProperty("prompt").GetString()
              GroundTruth = r.GetProperty("ground_truth").GetString(); Accuracy = r.GetProperty("accuracy").GetDouble()
              GreedyCorrect = r.GetProperty("greedy_correct").GetBoolean(); GreedyResponse = r.GetProperty("greedy_response").GetString()
              Responses = strs "responses"; Correct = [ for x in r.GetProperty("correct").EnumerateArray() -> x.GetBoolean() ] })
        |> List.ofSeq

    /// The eval files of a run in step order (sft first, then rl), as (file name, rows).
    let evals (run: string) =
        Directory.GetFiles(Path.Combine(run, "eval"), "*.jsonl")
        |> Array.sortBy (fun f -> (if Path.GetFileName(f).StartsWith "sft" then 0 else 1), f)
        |> Array.map (fun f -> Path.GetFileNameWithoutExtension f, evalFile f)
        |> List.ofArray

    let report (run: string) = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "report.json"))).RootElement

    /// Runs `klear train` with key=value overrides into `outputDir`, printing its progress lines; returns the run
    /// directory it reports.
    let train (outputDir: string) (overrides: string list) =
        Directory.CreateDirectory outputDir |> ignore
        let psi = Diagnostics.ProcessStartInfo(Nb.klear, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false)
        psi.ArgumentList.Add "train"
        psi.ArgumentList.Add $"output_dir={outputDir}"
        for o in overrides do psi.ArgumentList.Add o
        let sw = Diagnostics.Stopwatch.StartNew()
        use p = Diagnostics.Process.Start psi
        let err = p.StandardError.ReadToEndAsync()
        let lines = ResizeArray()
        let mutable line = p.StandardOutput.ReadLine()
        while not (isNull line) do
            lines.Add line
            line <- p.StandardOutput.ReadLine()
        p.WaitForExit()
        let runDir = lines |> Seq.tryPick (fun l -> if l.StartsWith "run directory: " then Some(l.Substring 15) else None)
        if p.ExitCode <> 0 || runDir.IsNone then
            let shown = String.concat "\n" (Seq.truncate 40 lines)
            failwith $"klear train failed (exit {p.ExitCode}): {err.Result} {shown}"
        // The progress lines (the report JSON that follows is read from report.json instead).
        lines |> Seq.takeWhile (fun l -> not (l.StartsWith "{")) |> Seq.iter (printfn "%s")
        printfn "klear train finished in %.0f s" sw.Elapsed.TotalSeconds
        runDir.Value

    /// The newest run directory (one with a report.json) under the given folders, if any.
    let latest (folders: string list) =
        folders
        |> List.filter Directory.Exists
        // A run directory sits in the folder or one level down (notebooks/runs/<notebook>/<run>).
        |> List.collect (fun f -> [ for d in Directory.GetDirectories f do yield d; yield! Directory.GetDirectories d ])
        |> List.filter (fun d -> File.Exists(Path.Combine(d, "report.json")))
        |> List.sortByDescending (fun d -> File.GetLastWriteTimeUtc(Path.Combine(d, "report.json")))
        |> List.tryHead

printfn "Klear loaded from %s (TorchSharp %s)" Nb.bin (typeof<TorchSharp.torch>.Assembly.GetName().Version.ToString())
