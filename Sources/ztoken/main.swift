// The ztoken executable: everything lives in ZTokenCLI.
import ZTokenCLI

ZToken.runMain()
