# Lists the names of the Windows Firewall rules of one group and changes nothing.
# The same COM object and properties as community.windows.win_firewall_rule
# (HNetCfg.FwPolicy2; INetFwRule Name and Grouping), so both see the same rules.
[CmdletBinding(SupportsShouldProcess)]
param([Parameter(Mandatory = $true)][string]$Group)
$Ansible.Changed = $false
$policy = New-Object -ComObject HNetCfg.FwPolicy2
$names = @($policy.Rules | Where-Object { $_.Grouping -eq $Group } | ForEach-Object { $_.Name })
$Ansible.Result = @{ names = $names }
