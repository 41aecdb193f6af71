namespace Klear.Algorithms

/// CE-GPPO (Su et al., arXiv 2509.20712): GPPO's general β1/β2 form (Klear-Reasoner Eq. 17–18) with the β values the
/// CE-GPPO authors published, as a named preset. The loss is Ppo.tokenLoss; only the βs differ from `gppo-general`.
module CeGppo =
    /// β1 = 0.75 on the low bound (A<0, r < 1-εl), β2 = 1 on the high bound, in value and gradient.
    let ceGppo (range: ClipRange) =
        Gppo.gppoGeneral range ObjectiveDefaults.CeGppoBeta1 ObjectiveDefaults.CeGppoBeta2
