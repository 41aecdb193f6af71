/// Learning curves per arm (mean over seeds with a ±1 sd band), one panel per curve metric, as HTML that loads the one
/// plotly.js copy beside the results (works offline; inlining it would add 3.6 MB per experiment to the repository)
/// and, when Debian's chromium is there, a PNG.
module PaperRepro.Chart

open System
open System.IO
open System.Text.RegularExpressions
open Plotly.NET
open Plotly.NET.ImageExport

let private palette = [| "#1f77b4"; "#d62728"; "#2ca02c"; "#ff7f0e"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f" |]

/// A curve's points per cell: for held-out metrics the evaluation after SFT is RL step 0.
let private points (m: Metric) (c: CellResult) =
    let start =
        if m.Phase = "eval-rl" then
            c.Rows |> List.tryPick (fun r -> if r.Phase = "eval-sft" then r.Values.TryFind m.Key |> Option.map (fun v -> 0L, v) else None) |> Option.toList
        else []
    start @ Results.series m c |> List.distinctBy fst

/// Mean and sd over seeds at each step every seed of the arm reached.
let curve (m: Metric) (cells: CellResult list) =
    let perCell = cells |> List.map (points m >> Map.ofList)
    match perCell with
    | [] -> []
    | first :: _ ->
        [ for KeyValue(step, _) in first do
              let vs = perCell |> List.choose (Map.tryFind step)
              if vs.Length = perCell.Length then
                  let s = Statistics.summarize vs
                  step, s.Mean, (if Double.IsNaN s.Sd then 0.0 else s.Sd) ]

let build (e: Experiment) (cells: CellResult list) =
    let panels =
        e.Curves
        |> List.mapi (fun panel m ->
            e.Arms
            |> List.mapi (fun i arm ->
                let pts = curve m (cells |> List.filter (fun c -> c.Cell.Arm = arm.Name))
                let color = Color.fromString palette.[i % palette.Length]
                let xs = pts |> List.map (fun (s, _, _) -> float s)
                let mean = pts |> List.map (fun (_, v, _) -> v)
                let upper = pts |> List.map (fun (_, v, sd) -> v + sd)
                let lower = pts |> List.map (fun (_, v, sd) -> v - sd)
                [ Chart.Line(x = xs @ List.rev xs, y = upper @ List.rev lower, Name = arm.Name + " ±sd", ShowLegend = false)
                  |> Chart.withLineStyle (Width = 0.0)
                  |> Chart.withTraceInfo (LegendGroup = arm.Name)
                  |> GenericChart.mapTrace (fun t ->
                      t.SetProperty("fill", "toself")
                      t.SetProperty("fillcolor", palette.[i % palette.Length] + "33")
                      t.SetProperty("hoverinfo", "skip")
                      t)
                  Chart.Line(x = xs, y = mean, Name = arm.Name, ShowLegend = (panel = 0), ShowMarkers = (xs.Length < 30))
                  |> Chart.withLineStyle (Color = color)
                  |> Chart.withTraceInfo (LegendGroup = arm.Name) ])
            |> List.concat
            |> Chart.combine
            |> Chart.withXAxisStyle (TitleText = "step")
            |> Chart.withYAxisStyle (TitleText = m.Label))
    panels
    |> Chart.Grid(nRows = panels.Length, nCols = 1)
    |> Chart.withTitle (sprintf "%s (%s): mean over seeds, band ±1 sd" e.Name e.PaperRef)
    |> Chart.withSize (1000, 320 * panels.Length)

/// Plotly.NET names the plot's div with a fresh GUID; a fixed name keeps the HTML a pure function of the results.
let private fixIds (name: string) (html: string) =
    let html = Regex.Replace(html, "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "chart-" + name)
    Regex.Replace(html, "renderPlotly_[0-9a-fA-F]{32}", "renderPlotly_chart")

/// The file name of the shared plotly.js, written once into the results folder; each chart.html is one level below it.
let plotlyJs = "plotly.min.js"

/// Writes Plotly.NET's own bundled plotly.js (and its licence) into the results folder, if it is not there already.
let writePlotlyJs (resultsDir: string) =
    let assembly = typeof<GenericChart>.Assembly
    for suffix, target in [ ".min.js", plotlyJs; ".min.js.LICENSE.txt", plotlyJs + ".LICENSE.txt" ] do
        let resource = assembly.GetManifestResourceNames() |> Array.find (fun n -> n.StartsWith "Plotly.NET.plotly-" && n.EndsWith suffix)
        let path = Path.Combine(resultsDir, target)
        if not (File.Exists path) then
            use source = assembly.GetManifestResourceStream resource
            use file = File.Create path
            source.CopyTo file

let saveHtml (path: string) (e: Experiment) (chart: GenericChart) =
    let html =
        chart
        |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.CDN("../" + plotlyJs)))
        |> GenericChart.toEmbeddedHTML
    File.WriteAllText(path, fixIds e.Name html)

let chromium = "/usr/bin/chromium"

/// Renders the PNG with Debian's chromium (headless, --no-sandbox as root runs require).
let savePng (path: string) (panels: int) (chart: GenericChart) =
    PuppeteerSharpRendererOptions.localBrowserExecutablePath <- Some chromium
    PuppeteerSharpRendererOptions.launchOptions.Args <- [| "--no-sandbox"; "--disable-gpu" |]
    let target = Path.ChangeExtension(path, null)
    chart
    |> Chart.withDisplayOptions (DisplayOptions.init (PlotlyJSReference = PlotlyJSReference.Full))
    |> Chart.savePNG (target, Width = 1000, Height = 320 * panels)
