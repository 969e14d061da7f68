# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The one payload of the mailrelay.smtp Exchange modules.
# Mode read: returns the receive connectors (with their extended-right permissions and SIDs), send
# connectors, the Transport service's DNS settings and accepted domains asked for, in one round trip;
# it changes nothing and also runs in check mode.
# Mode apply: runs the typed Operations planned on the controller, each checked against the table
# below and executed as one Exchange cmdlet call with named parameters, then returns the same read.
# Never called in check mode.
# Fixed text: every value comes in as a parameter.
[CmdletBinding(SupportsShouldProcess)]
param(
    [Parameter(Mandatory = $true)]
    [ValidateSet('read', 'apply')]
    [string]$Mode,
    [ValidateSet('local', 'remote')]
    [string]$Session = 'remote',
    [string]$ConnectionUri = '',
    [ValidateSet('Kerberos', 'Negotiate', 'Default')]
    [string]$Authentication = 'Kerberos',
    [string]$Username = '',
    [securestring]$SessionPassword,
    [string]$Server = '',
    [string]$ReceiveConnector = '',
    [bool]$AllReceiveConnectors = $false,
    [bool]$IncludePermissions = $false,
    [string]$SendConnector = '',
    [bool]$AllSendConnectors = $false,
    [bool]$TransportService = $false,
    [bool]$AcceptedDomains = $false,
    [string[]]$Principals = @(),
    [object[]]$Operations = @(),
    [securestring]$SmartHostPassword
)

$ErrorActionPreference = 'Stop'

# One line per operation: the cmdlet, the only parameters it may receive, and whether it
# needs -Confirm:$false, a connector DN as -Identity, or the smart host credential.
$OperationTable = @{
    new_receive_connector = @{ Cmdlet = 'New-ReceiveConnector'; Parameters = @('Name', 'Server', 'TransportRole', 'Custom', 'Bindings', 'RemoteIPRanges', 'PermissionGroups', 'AuthMechanism', 'RequireTLS', 'Fqdn', 'MaxMessageSize', 'Enabled') }
    set_receive_connector = @{ Cmdlet = 'Set-ReceiveConnector'; Parameters = @('Identity', 'Bindings', 'RemoteIPRanges', 'PermissionGroups', 'AuthMechanism', 'RequireTLS', 'Fqdn', 'MaxMessageSize', 'Enabled') }
    remove_receive_connector = @{ Cmdlet = 'Remove-ReceiveConnector'; Parameters = @('Identity'); Confirm = $true }
    add_ad_permission = @{ Cmdlet = 'Add-ADPermission'; Parameters = @('User', 'ExtendedRights', 'Deny'); Target = $true; Confirm = $true }
    remove_ad_permission = @{ Cmdlet = 'Remove-ADPermission'; Parameters = @('User', 'ExtendedRights', 'Deny'); Target = $true; Confirm = $true }
    new_send_connector = @{ Cmdlet = 'New-SendConnector'; Parameters = @('Name', 'Usage', 'AddressSpaces', 'DNSRoutingEnabled', 'SmartHosts', 'Port', 'RequireTLS', 'IgnoreSTARTTLS', 'TlsAuthLevel', 'TlsDomain', 'SmartHostAuthMechanism', 'UseExternalDNSServersEnabled', 'SourceTransportServers', 'MaxMessageSize', 'Fqdn', 'Enabled'); Credential = $true }
    set_send_connector = @{ Cmdlet = 'Set-SendConnector'; Parameters = @('Identity', 'AddressSpaces', 'DNSRoutingEnabled', 'SmartHosts', 'Port', 'RequireTLS', 'IgnoreSTARTTLS', 'TlsAuthLevel', 'TlsDomain', 'SmartHostAuthMechanism', 'UseExternalDNSServersEnabled', 'SourceTransportServers', 'MaxMessageSize', 'Fqdn', 'Enabled'); Credential = $true }
    remove_send_connector = @{ Cmdlet = 'Remove-SendConnector'; Parameters = @('Identity'); Confirm = $true }
    set_transport_service = @{ Cmdlet = 'Set-TransportService'; Parameters = @('Identity', 'ExternalDNSServers', 'ExternalDNSAdapterEnabled', 'ExternalDNSProtocolOption', 'InternalDNSServers', 'InternalDNSAdapterEnabled', 'InternalDNSProtocolOption') }
    new_accepted_domain = @{ Cmdlet = 'New-AcceptedDomain'; Parameters = @('Name', 'DomainName', 'DomainType') }
    set_accepted_domain = @{ Cmdlet = 'Set-AcceptedDomain'; Parameters = @('Identity', 'DomainType', 'MatchSubDomains', 'MakeDefault') }
    remove_accepted_domain = @{ Cmdlet = 'Remove-AcceptedDomain'; Parameters = @('Identity'); Confirm = $true }
}

# The reader's output: for each kind of object, JSON key = Exchange property, one line per conversion.
$ReceiveConnectorView = @{
    Text = [ordered]@{ identity = 'Identity'; name = 'Name'; server = 'Server'; transport_role = 'TransportRole'; permission_groups = 'PermissionGroups'; auth_mechanism = 'AuthMechanism'; fqdn = 'Fqdn'; max_message_size = 'MaxMessageSize'; distinguished_name = 'DistinguishedName' }
    List = [ordered]@{ bindings = 'Bindings'; remote_ip_ranges = 'RemoteIPRanges' }
    Flag = [ordered]@{ require_tls = 'RequireTLS'; enabled = 'Enabled' }
}
$PermissionView = @{
    Text = [ordered]@{ user = 'User'; access_rights = 'AccessRights' }
    List = [ordered]@{ extended_rights = 'ExtendedRights' }
    Flag = [ordered]@{ deny = 'Deny'; inherited = 'IsInherited' }
}
$SendConnectorView = @{
    Text = [ordered]@{ name = 'Name'; tls_auth_level = 'TlsAuthLevel'; tls_domain = 'TlsDomain'; smarthost_auth_mechanism = 'SmartHostAuthMechanism'; max_message_size = 'MaxMessageSize'; fqdn = 'Fqdn' }
    List = [ordered]@{ address_spaces = 'AddressSpaces'; smart_hosts = 'SmartHosts'; source_transport_servers = 'SourceTransportServers' }
    Flag = [ordered]@{ dns_routing_enabled = 'DNSRoutingEnabled'; require_tls = 'RequireTLS'; ignore_starttls = 'IgnoreSTARTTLS'; use_external_dns_servers_enabled = 'UseExternalDNSServersEnabled'; enabled = 'Enabled' }
    Number = [ordered]@{ port = 'Port' }
}
$TransportServiceView = @{
    Text = [ordered]@{ identity = 'Identity'; external_dns_protocol_option = 'ExternalDNSProtocolOption'; internal_dns_protocol_option = 'InternalDNSProtocolOption' }
    List = [ordered]@{ external_dns_servers = 'ExternalDNSServers'; internal_dns_servers = 'InternalDNSServers' }
    Flag = [ordered]@{ external_dns_adapter_enabled = 'ExternalDNSAdapterEnabled'; internal_dns_adapter_enabled = 'InternalDNSAdapterEnabled' }
}
$AcceptedDomainView = @{
    Text = [ordered]@{ name = 'Name'; domain_name = 'DomainName'; domain_type = 'DomainType' }
    Flag = [ordered]@{ default = 'Default'; match_subdomains = 'MatchSubDomains' }
}

# The read needs only Get- cmdlets; apply adds the cmdlets of the planned operations and no other.
# Remote sessions import exactly these, and role based access control is checked against them, so a
# least-privilege role that allows only what the task changes is enough.
$ReadCommands = @('Get-ReceiveConnector', 'Get-ADPermission', 'Get-SendConnector', 'Get-TransportService', 'Get-AcceptedDomain')
$NeededCommands = $ReadCommands
if ($Mode -eq 'apply') {
    $NeededCommands = @($ReadCommands) + @(@($Operations) | ForEach-Object { $OperationTable[[string]$_.op].Cmdlet } | Where-Object { $_ } | Sort-Object -Unique)
}

#region session
function Stop-Payload([string]$Code, [string]$Text) {
    throw ('MAILRELAY:{0}: {1}' -f $Code, $Text)
}

function Get-FailureCode($ErrorRecord) {
    $text = '{0} {1} {2}' -f $ErrorRecord.CategoryInfo.Reason, $ErrorRecord.FullyQualifiedErrorId, $ErrorRecord.Exception.Message
    if ($text -match 'ManagementObjectNotFound|couldn''t be found|could not be found') {
        return 'not_found'
    }
    if ($text -match 'AccessDenied|UnauthorizedAccess|Access is denied|InsufficientAccessRights') {
        return 'access_denied'
    }
    # Exchange's directory exceptions: with the snap-in over WinRM, typically the second hop.
    if ($text -match 'ADTransientException|ADOperationException|Active Directory operation failed|Active Directory server .* is not available') {
        return 'directory_unreachable'
    }
    return 'exchange_error'
}

function Invoke-Exchange([string]$Command, [hashtable]$Arguments) {
    try {
        return & $Command @Arguments
    }
    catch {
        Stop-Payload (Get-FailureCode $_) ('{0}: {1}' -f $Command, $_.Exception.Message)
    }
}

# Checked before any session opens: a read never takes operations, and apply never runs in check mode.
if ($Mode -eq 'read' -and @($Operations).Count -gt 0) {
    Stop-Payload 'bad_operation' 'operations are only run in mode apply'
}
if ($Mode -eq 'apply' -and $Ansible.CheckMode) {
    Stop-Payload 'bad_operation' 'mode apply is never run in check mode'
}
foreach ($operation in @($Operations)) {
    if (-not $OperationTable.ContainsKey([string]$operation.op)) {
        Stop-Payload 'bad_operation' ('unknown operation {0}' -f $operation.op)
    }
}

$RemoteSession = $null
if ($Session -eq 'local') {
    if (-not (Get-Command -Name 'Get-ReceiveConnector' -ErrorAction SilentlyContinue)) {
        try {
            Add-PSSnapin -Name 'Microsoft.Exchange.Management.PowerShell.SnapIn' -ErrorAction Stop
        }
        catch {
            Stop-Payload 'snapin_missing' $_.Exception.Message
        }
    }
}
else {
    $uri = $ConnectionUri
    if (-not $uri) {
        $uri = 'http://{0}/PowerShell/' -f [System.Net.Dns]::GetHostEntry([System.Environment]::MachineName).HostName
    }
    $sessionOptions = @{
        ConfigurationName = 'Microsoft.Exchange'
        ConnectionUri = $uri
        Authentication = $Authentication
        ErrorAction = 'Stop'
    }
    if ($Username) {
        # Explicit credentials: the payload's connection to Exchange is a second hop.
        $sessionOptions.Credential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList $Username, $SessionPassword
    }
    try {
        $RemoteSession = New-PSSession @sessionOptions
    }
    catch {
        $reason = $_.Exception.Message
        if ($reason -match 'Access is denied|AccessDenied|401|unauthorized') {
            Stop-Payload 'access_denied' ('{0}: {1}' -f $uri, $reason)
        }
        Stop-Payload 'endpoint_unreachable' ('{0}: {1}' -f $uri, $reason)
    }
    # The endpoint runs in NoLanguage mode: import its cmdlets as local proxies and call them one
    # by one with parameters; no script block ever runs in the remote session.
    try {
        $null = Import-PSSession -Session $RemoteSession -CommandName $NeededCommands -DisableNameChecking -AllowClobber -ErrorAction Stop
    }
    catch {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
        Stop-Payload 'endpoint_unreachable' ('{0}: {1}' -f $uri, $_.Exception.Message)
    }
}
$missing = @($NeededCommands | Where-Object { -not (Get-Command -Name $_ -ErrorAction SilentlyContinue) })
if ($missing.Count -gt 0) {
    if ($null -ne $RemoteSession) {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
    }
    Stop-Payload 'access_denied' ('this account may not run {0} (Exchange role based access control)' -f ($missing -join ', '))
}
#endregion

#region read (both modes)
function ConvertTo-TextList($Value) {
    return , @($Value | Where-Object { $null -ne $_ } | ForEach-Object { [string]$_ })
}

function ConvertTo-View($Object, [hashtable]$View) {
    $result = [ordered]@{}
    foreach ($key in $View.Text.Keys) {
        $result[$key] = [string]$Object.($View.Text[$key])
    }
    foreach ($key in $View.List.Keys) {
        $result[$key] = ConvertTo-TextList $Object.($View.List[$key])
    }
    foreach ($key in $View.Flag.Keys) {
        $result[$key] = [bool]$Object.($View.Flag[$key])
    }
    foreach ($key in $View.Number.Keys) {
        $result[$key] = [int]$Object.($View.Number[$key])
    }
    return $result
}

function Select-ByName([object[]]$Objects, [string]$Name, [bool]$All) {
    if ($All) {
        return , $Objects
    }
    # The exact name: never a wildcard or a substring match.
    return , @($Objects | Where-Object { [string]$_.Name -eq $Name })
}

function Get-PrincipalSid($User) {
    if ($null -eq $User) {
        return $null
    }
    # SecurityPrincipalIdParameter carries the SID; a name is translated on this host.
    $sid = $User.SecurityIdentifier
    if ($sid) {
        return [string]$sid
    }
    try {
        return ([System.Security.Principal.NTAccount][string]$User).Translate([System.Security.Principal.SecurityIdentifier]).Value
    }
    catch {
        return $null
    }
}

function Read-Permission([string]$DistinguishedName) {
    foreach ($entry in @(Invoke-Exchange 'Get-ADPermission' @{ Identity = $DistinguishedName })) {
        $view = ConvertTo-View $entry $PermissionView
        # GenericAll and friends carry no extended right: not a receive connector permission.
        if ($view.extended_rights.Count -gt 0) {
            $view.sid = Get-PrincipalSid $entry.User
            $view
        }
    }
}

function Read-ReceiveConnector($Connector, [bool]$WithPermission) {
    $view = ConvertTo-View $Connector $ReceiveConnectorView
    $view.permissions = @()
    if ($WithPermission) {
        $view.permissions = @(Read-Permission $view.distinguished_name)
    }
    return $view
}

function Read-SendConnector($Connector) {
    $view = ConvertTo-View $Connector $SendConnectorView
    # The password is write-only: only the account name comes back. Through Import-PSSession the
    # credential may arrive deserialized without UserName: then the name is unknown, not empty.
    $view.username = ''
    $view.username_readable = $true
    if ($null -ne $Connector.AuthenticationCredential) {
        $user = [string]$Connector.AuthenticationCredential.UserName
        $view.username = $null
        $view.username_readable = $false
        if ($user) {
            $view.username = $user
            $view.username_readable = $true
        }
    }
    return $view
}

function Read-ExchangeState {
    $state = [ordered]@{}
    if ($ReceiveConnector -or $AllReceiveConnectors) {
        $found = Select-ByName @(Invoke-Exchange 'Get-ReceiveConnector' @{ Server = $Server }) $ReceiveConnector $AllReceiveConnectors
        $withPermission = $IncludePermissions -or -not $AllReceiveConnectors
        $state.receive_connectors = @($found | ForEach-Object { Read-ReceiveConnector $_ $withPermission })
    }
    if ($SendConnector -or $AllSendConnectors) {
        $found = Select-ByName @(Invoke-Exchange 'Get-SendConnector' @{}) $SendConnector $AllSendConnectors
        $state.send_connectors = @($found | ForEach-Object { Read-SendConnector $_ })
    }
    if ($TransportService) {
        $state.transport_service = ConvertTo-View (Invoke-Exchange 'Get-TransportService' @{ Identity = $Server }) $TransportServiceView
    }
    if ($AcceptedDomains) {
        $state.accepted_domains = @(Invoke-Exchange 'Get-AcceptedDomain' @{} | ForEach-Object { ConvertTo-View $_ $AcceptedDomainView })
    }
    if ($Principals.Count -gt 0) {
        $translated = [ordered]@{}
        foreach ($principal in $Principals) {
            $translated[$principal] = Get-PrincipalSid $principal
        }
        $state.principal_sids = $translated
    }
    return $state
}
#endregion

#region apply (mode apply only)
function Invoke-Operation($Operation, [hashtable]$CreatedConnector) {
    $kind = [string]$Operation.op
    if (-not $OperationTable.ContainsKey($kind)) {
        Stop-Payload 'bad_operation' ('unknown operation {0}' -f $kind)
    }
    $spec = $OperationTable[$kind]
    $arguments = @{}
    if ($null -ne $Operation.parameters) {
        foreach ($name in @($Operation.parameters.Keys)) {
            if ($spec.Parameters -notcontains $name) {
                Stop-Payload 'bad_operation' ('{0} may not set {1}' -f $kind, $name)
            }
            $arguments[$name] = $Operation.parameters[$name]
        }
    }
    if ($spec.Target) {
        # Permissions are changed on the connector's exact directory object, never on a name.
        if ($Operation.target_new) {
            if (-not $CreatedConnector.ContainsKey([string]$Operation.target_new)) {
                Stop-Payload 'bad_operation' ('{0}: {1} was not created in this call' -f $kind, $Operation.target_new)
            }
            $arguments.Identity = $CreatedConnector[[string]$Operation.target_new]
        }
        elseif ($Operation.target_dn) {
            $arguments.Identity = [string]$Operation.target_dn
        }
        else {
            Stop-Payload 'bad_operation' ('{0} needs target_dn or target_new' -f $kind)
        }
    }
    if ($null -ne $Operation.credential) {
        if (-not $spec.Credential -or [string]$Operation.credential.secret -ne 'SmartHostPassword' -or $null -eq $SmartHostPassword) {
            Stop-Payload 'bad_operation' ('{0}: no smart host credential available' -f $kind)
        }
        $arguments.AuthenticationCredential = New-Object -TypeName System.Management.Automation.PSCredential -ArgumentList ([string]$Operation.credential.username), $SmartHostPassword
    }
    if ($spec.Confirm) {
        $arguments.Confirm = $false
    }
    $output = Invoke-Exchange $spec.Cmdlet $arguments
    if ($kind -eq 'new_receive_connector') {
        $CreatedConnector[[string]$Operation.identity] = [string]@($output)[0].DistinguishedName
    }
}
#endregion

try {
    if ($Mode -eq 'apply') {
        $created = @{}
        foreach ($operation in @($Operations)) {
            Invoke-Operation $operation $created
        }
    }
    $Ansible.Changed = $Mode -eq 'apply' -and @($Operations).Count -gt 0
    $Ansible.Result = ConvertTo-Json -InputObject (Read-ExchangeState) -Depth 10 -Compress
}
finally {
    if ($null -ne $RemoteSession) {
        Remove-PSSession -Session $RemoteSession -WhatIf:$false
    }
}
