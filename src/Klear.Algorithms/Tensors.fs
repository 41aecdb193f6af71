namespace Klear.Algorithms
